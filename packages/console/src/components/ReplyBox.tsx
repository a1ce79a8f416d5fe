import { useEffect, useState } from 'preact/hooks'
import { api, type OutboundBody } from '../api.js'
import type { CannedReply } from '@weapp/common'
import { cannedQuery, filterCanned } from '../canned.js'
import { errorText } from '../hooks.js'
import { CardComposer } from './CardComposer.js'

interface Props {
  disabledReason: string | null
  /** Sends; resolves true when the message went out (the draft is then cleared). */
  onSend: (body: OutboundBody) => Promise<boolean>
  onTyping: () => void
}

export function ReplyBox ({ disabledReason, onSend, onTyping }: Props) {
  const [draft, setDraft] = useState('')
  const [canned, setCanned] = useState<CannedReply[]>([])
  const [choice, setChoice] = useState(0)
  const [cardOpen, setCardOpen] = useState(false)
  const [error, setError] = useState<string | null>(null)
  const [uploading, setUploading] = useState(false)
  const disabled = disabledReason !== null

  useEffect(() => {
    api.canned().then((r) => { setCanned(r.items) }, () => {})
  }, [])

  const query = cannedQuery(draft)
  const matches = query === null ? [] : filterCanned(canned, query)
  const menuOpen = query !== null && matches.length > 0

  const insert = (reply: CannedReply): void => {
    setDraft(reply.text)
    setChoice(0)
  }

  const sendText = async (): Promise<void> => {
    const text = draft.trim()
    if (text === '' || disabled) return
    setDraft('')
    if (!await onSend({ type: 'text', text })) setDraft((current) => (current === '' ? text : current))
  }

  const onKeyDown = (e: KeyboardEvent): void => {
    if (menuOpen) {
      if (e.key === 'ArrowDown') { e.preventDefault(); setChoice((choice + 1) % matches.length); return }
      if (e.key === 'ArrowUp') { e.preventDefault(); setChoice((choice - 1 + matches.length) % matches.length); return }
      if (e.key === 'Enter' && !e.shiftKey) { e.preventDefault(); insert(matches[Math.min(choice, matches.length - 1)]!); return }
      if (e.key === 'Escape') { e.preventDefault(); setDraft(draft.slice(1)); return }
    }
    if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
      e.preventDefault()
      void sendText()
    }
  }

  const uploadImage = async (input: HTMLInputElement): Promise<void> => {
    const file = input.files?.[0]
    if (file === undefined) return
    setUploading(true)
    setError(null)
    try {
      const { mediaId } = await api.uploadMedia(file)
      await onSend({ type: 'image', mediaId })
    } catch (err) {
      setError(errorText(err))
    } finally {
      setUploading(false)
      input.value = ''
    }
  }

  return (
    <section class='reply' aria-label='Reply'>
      {disabled && <p class='disabled-reason' data-testid='reply-disabled-reason' role='status'>{disabledReason}</p>}
      {menuOpen && (
        <ul class='canned-menu' data-testid='canned-menu' role='listbox' aria-label='Canned replies'>
          {matches.map((r, i) => (
            <li key={r.id} data-testid='canned-item' role='option' aria-selected={i === choice} class={i === choice ? 'chosen' : undefined} onMouseDown={(e) => { e.preventDefault(); insert(r) }}>
              <strong>/{r.shortcut}</strong> <span>{r.text}</span>
            </li>
          ))}
        </ul>
      )}
      <textarea
        data-testid='reply-text' aria-label='Reply text (Enter sends, Shift+Enter for a new line, / for canned replies)'
        placeholder={disabled ? 'Replies are disabled' : 'Reply… (Enter sends, Shift+Enter new line, / canned replies)'}
        rows={3} maxLength={2048} disabled={disabled} value={draft}
        onInput={(e) => { setDraft(e.currentTarget.value); setChoice(0); onTyping() }}
        onKeyDown={onKeyDown}
      />
      <div class='row actions'>
        <label class='file'>Image
          <input data-testid='reply-image-input' type='file' accept='image/*' disabled={disabled || uploading} onChange={(e) => { void uploadImage(e.currentTarget) }} />
        </label>
        <button type='button' data-testid='card-open' aria-expanded={cardOpen} onClick={() => { setCardOpen(!cardOpen) }}>Card</button>
        <button type='button' class='primary' data-testid='reply-send' disabled={disabled || draft.trim() === ''} onClick={() => { void sendText() }}>Send</button>
      </div>
      {error !== null && <p class='error' role='alert'>{error}</p>}
      {cardOpen && <CardComposer disabled={disabled} onSend={onSend} />}
    </section>
  )
}
