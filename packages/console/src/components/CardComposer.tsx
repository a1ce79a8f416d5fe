import { useEffect, useState } from 'preact/hooks'
import type { CardTemplate } from '@weapp/common'
import { api, type OutboundBody } from '../api.js'
import { errorText } from '../hooks.js'
import { mediaUrl } from '../messages.js'

// The mini-program card composer: title, page path and a thumbnail (uploaded as temporary media), or a saved
// template; templates are saved and deleted here too.

export function CardComposer ({ disabled, onSend }: { disabled: boolean, onSend: (body: OutboundBody) => Promise<boolean> }) {
  const [templates, setTemplates] = useState<CardTemplate[]>([])
  const [title, setTitle] = useState('')
  const [pagepath, setPagepath] = useState('')
  const [thumb, setThumb] = useState<string | null>(null)
  const [name, setName] = useState('')
  const [selected, setSelected] = useState('')
  const [busy, setBusy] = useState(false)
  const [error, setError] = useState<string | null>(null)

  useEffect(() => {
    api.cardTemplates().then((r) => { setTemplates(r.items) }, (err) => { setError(errorText(err)) })
  }, [])

  const choose = (id: string): void => {
    setSelected(id)
    const t = templates.find((x) => x.id === id)
    if (t === undefined) return
    setTitle(t.title)
    setPagepath(t.pagepath)
    setThumb(t.thumbMediaId)
    setName(t.name)
  }

  const upload = async (input: HTMLInputElement): Promise<void> => {
    const file = input.files?.[0]
    if (file === undefined) return
    setBusy(true)
    setError(null)
    try {
      setThumb((await api.uploadMedia(file)).mediaId)
    } catch (err) {
      setError(errorText(err))
    } finally {
      setBusy(false)
      input.value = ''
    }
  }

  const save = async (): Promise<void> => {
    if (thumb === null) { setError('Upload a thumbnail first.'); return }
    setBusy(true)
    setError(null)
    try {
      const saved = await api.saveCardTemplate({ name: name.trim(), title, pagepath, thumbMediaId: thumb })
      setTemplates((list) => [...list, saved])
      setSelected(saved.id)
    } catch (err) {
      setError(errorText(err))
    } finally {
      setBusy(false)
    }
  }

  const remove = async (): Promise<void> => {
    if (selected === '') return
    try {
      await api.deleteCardTemplate(selected)
      setTemplates((list) => list.filter((t) => t.id !== selected))
      setSelected('')
    } catch (err) {
      setError(errorText(err))
    }
  }

  const send = async (): Promise<void> => {
    setError(null)
    if (title.trim() === '' || pagepath.trim() === '' || thumb === null) { setError('A card needs a title, a page path and a thumbnail.'); return }
    setBusy(true)
    try {
      await onSend({ type: 'miniprogrampage', title: title.trim(), pagepath: pagepath.trim(), thumbMediaId: thumb })
    } finally {
      setBusy(false)
    }
  }

  return (
    <fieldset class='card-composer'>
      <legend>Mini-program card</legend>
      <label>Template
        <select data-testid='card-template-select' value={selected} onChange={(e) => { choose(e.currentTarget.value) }}>
          <option value=''>(none)</option>
          {templates.map((t) => <option key={t.id} value={t.id}>{t.name}</option>)}
        </select>
      </label>
      {selected !== '' && <button type='button' class='link' onClick={() => { void remove() }}>Delete template</button>}
      <label>Title <input data-testid='card-title' maxLength={64} value={title} onInput={(e) => { setTitle(e.currentTarget.value) }} /></label>
      <label>Page path <input data-testid='card-pagepath' maxLength={512} placeholder='pages/index/index' value={pagepath} onInput={(e) => { setPagepath(e.currentTarget.value) }} /></label>
      <label>Thumbnail <input data-testid='card-thumb-input' type='file' accept='image/*' disabled={busy} onChange={(e) => { void upload(e.currentTarget) }} /></label>
      {thumb !== null && <img class='thumb' src={mediaUrl(thumb)} alt='Thumbnail preview' />}
      <div class='row'>
        <label>Save as <input data-testid='card-template-name' maxLength={64} placeholder='template name' value={name} onInput={(e) => { setName(e.currentTarget.value) }} /></label>
        <button type='button' data-testid='card-save-template' disabled={busy || name.trim() === ''} onClick={() => { void save() }}>Save template</button>
      </div>
      {error !== null && <p class='error' role='alert'>{error}</p>}
      <button type='button' data-testid='card-send' disabled={disabled || busy} onClick={() => { void send() }}>Send card</button>
    </fieldset>
  )
}
