import type { ConsoleSession } from '@weapp/common'
import { useState } from 'preact/hooks'
import { api } from '../api.js'
import { errorText } from '../hooks.js'
import { armAlerts } from '../notify.js'

export function Login ({ onLogin }: { onLogin: (session: ConsoleSession) => void }) {
  const [login, setLogin] = useState('')
  const [password, setPassword] = useState('')
  const [error, setError] = useState<string | null>(null)
  const [busy, setBusy] = useState(false)

  const submit = async (e: Event): Promise<void> => {
    e.preventDefault()
    // The submit is a user gesture: the moment to unlock sound and ask for notifications.
    armAlerts()
    setBusy(true)
    setError(null)
    try {
      onLogin(await api.login(login.trim(), password))
    } catch (err) {
      setError(errorText(err))
      setBusy(false)
    }
  }

  return (
    <main class='login'>
      <form class='login-card' data-testid='login-form' onSubmit={(e) => { void submit(e) }}>
        <h1>Console</h1>
        <label>Login
          <input data-testid='login-login' name='login' autocomplete='username' required maxLength={64} value={login} onInput={(e) => { setLogin(e.currentTarget.value) }} />
        </label>
        <label>Password
          <input data-testid='login-password' name='password' type='password' autocomplete='current-password' required maxLength={256} value={password} onInput={(e) => { setPassword(e.currentTarget.value) }} />
        </label>
        {error !== null && <p class='error' role='alert' data-testid='login-error'>{error}</p>}
        <button type='submit' data-testid='login-submit' disabled={busy}>Log in</button>
      </form>
      {/* No socket before login: the state says so for whoever checks after a logout. */}
      <span data-testid='socket-state' data-state='closed' hidden>offline</span>
    </main>
  )
}
