import type { ConsoleMessage, Note, WindowView } from '@weapp/common'
import { useEffect, useState } from 'preact/hooks'
import { ApiError, api, type UserProfile } from '../api.js'
import { errorText } from '../hooks.js'
import { sessionEntries, windowHistory } from '../messages.js'
import { meterText } from '../meter.js'

interface Props {
  openid: string
  messages: ConsoleMessage[]
  window: WindowView | null
  notes: Note[]
  now: number
  onNoteAdded: (note: Note) => void
}

const when = (iso: string): string => new Date(iso).toLocaleString()

export function SidePanel ({ openid, messages, window, notes, now, onNoteAdded }: Props) {
  const [profile, setProfile] = useState<UserProfile | null | 'none'>(null)
  const [profileError, setProfileError] = useState<string | null>(null)
  const [note, setNote] = useState('')
  const [noteError, setNoteError] = useState<string | null>(null)

  useEffect(() => {
    setProfile(null)
    setProfileError(null)
    let current = true
    api.user(openid).then((r) => { if (current) setProfile(r.user) }, (err) => {
      if (!current) return
      if (err instanceof ApiError && err.status === 404) setProfile('none')
      else setProfileError(errorText(err))
    })
    return () => { current = false }
  }, [openid])

  const addNote = async (e: Event): Promise<void> => {
    e.preventDefault()
    const text = note.trim()
    if (text === '') return
    setNoteError(null)
    try {
      onNoteAdded(await api.addNote(openid, text))
      setNote('')
    } catch (err) {
      setNoteError(errorText(err))
    }
  }

  const user = typeof profile === 'object' ? profile : null
  const unionid = user?.unionid
  const entries = sessionEntries(messages)
  const windows = windowHistory(messages)
  const profileFields = user === null ? [] : Object.entries(user).filter(([k, v]) => k !== 'openid' && k !== 'unionid' && (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean'))

  return (
    <aside class='side' data-testid='side-panel' aria-label='About this user'>
      <h2>User</h2>
      <dl>
        <dt>openid</dt><dd data-testid='side-openid'><code>{openid}</code></dd>
        <dt>unionid</dt><dd data-testid='side-unionid'>{typeof unionid === 'string' ? <code>{unionid}</code> : '—'}</dd>
      </dl>
      <div data-testid='side-profile' class='profile'>
        {profile === null && profileError === null && <p class='muted'>Loading…</p>}
        {profile === 'none' && <p class='muted'>Never logged in to the mini-program.</p>}
        {profileError !== null && <p class='error'>{profileError}</p>}
        {profileFields.length > 0 && <dl>{profileFields.map(([k, v]) => [<dt key={`${k}-t`}>{k}</dt>, <dd key={`${k}-d`}>{String(v)}</dd>])}</dl>}
      </div>

      <h2>Session entries</h2>
      <ul data-testid='side-entries' class='history'>
        {entries.length === 0 && <li class='muted'>None in the loaded messages.</li>}
        {entries.map((e) => <li key={e.at}><time dateTime={e.at}>{when(e.at)}</time> {e.sessionFrom !== '' ? <code>{e.sessionFrom}</code> : <span class='muted'>(no SessionFrom)</span>}</li>)}
      </ul>

      <h2>Send window</h2>
      <div data-testid='side-window'>
        <p>Now: {meterText(window, now)}{window !== null ? ` (until ${when(window.expiresAt)})` : ''}</p>
        <ul class='history'>
          {windows.slice(-10).reverse().map((w) => (
            <li key={w.openedAt}>{w.kind === 'session' ? 'Session entry' : 'User message'} <time dateTime={w.openedAt}>{when(w.openedAt)}</time>: {w.sent}/{w.quota} used</li>
          ))}
        </ul>
      </div>

      <h2>Notes</h2>
      <div data-testid='side-notes'>
        <ul class='notes'>
          {notes.map((n) => (
            <li key={n.id} data-testid='note'>
              <p>{n.text}</p>
              <small>{n.author.displayName} · <time dateTime={n.createdAt}>{when(n.createdAt)}</time></small>
            </li>
          ))}
        </ul>
        <form onSubmit={(e) => { void addNote(e) }}>
          <textarea data-testid='note-text' aria-label='New internal note (never sent to the user)' placeholder='Internal note (never sent to the user)' rows={2} maxLength={2048} value={note} onInput={(e) => { setNote(e.currentTarget.value) }} />
          <button type='submit' data-testid='note-add' disabled={note.trim() === ''}>Add note</button>
          {noteError !== null && <p class='error' role='alert'>{noteError}</p>}
        </form>
      </div>
    </aside>
  )
}
