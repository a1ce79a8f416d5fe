import type { ConsoleSession } from '@weapp/common'
import { useEffect, useState } from 'preact/hooks'
import { api, setCsrfToken, setUnauthorizedHandler } from './api.js'
import { Login } from './components/Login.js'
import { Workspace } from './components/Workspace.js'
import { armAlerts } from './notify.js'

/** The session decides the screen: unknown (asking GET /me), none (login) or an agent's workspace. */
export function App () {
  const [session, setSession] = useState<ConsoleSession | null | undefined>(undefined)

  const signIn = (s: ConsoleSession): void => {
    setCsrfToken(s.csrfToken)
    setSession(s)
  }
  const signOut = (): void => {
    setCsrfToken('')
    setSession(null)
  }

  useEffect(() => {
    setUnauthorizedHandler(signOut)
    api.me().then(signIn, () => { setSession(null) })
    // Sound and notifications need a user gesture: the first click or key press in the app arms them.
    const arm = (): void => { armAlerts() }
    window.addEventListener('pointerdown', arm, { once: true })
    window.addEventListener('keydown', arm, { once: true })
  }, [])

  const logout = async (): Promise<void> => {
    try {
      await api.logout()
    } catch {}
    signOut()
  }

  if (session === undefined) return <p class='muted loading'>Loading…</p>
  if (session === null) return <Login onLogin={signIn} />
  return <Workspace key={session.agent.id} session={session} onLogout={() => { void logout() }} onEnded={signOut} />
}
