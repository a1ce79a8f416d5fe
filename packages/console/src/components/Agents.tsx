import type { AgentRole, AgentView } from '@weapp/common'
import { useEffect, useState } from 'preact/hooks'
import { api } from '../api.js'
import { errorText } from '../hooks.js'

// Admins manage the agents: create, disable / enable, change the role, reset a password
// (docs/console.md: the last enabled admin cannot be disabled or demoted: the server says so).

export function Agents ({ me }: { me: AgentView }) {
  const [agents, setAgents] = useState<AgentView[]>([])
  const [error, setError] = useState<string | null>(null)
  const [notice, setNotice] = useState<string | null>(null)
  const [form, setForm] = useState({ login: '', displayName: '', role: 'agent' as AgentRole, password: '' })

  const load = async (): Promise<void> => {
    try {
      setAgents((await api.agents()).items)
    } catch (err) {
      setError(errorText(err))
    }
  }
  useEffect(() => { void load() }, [])

  const run = async (work: () => Promise<void>, done?: string): Promise<void> => {
    setError(null)
    setNotice(null)
    try {
      await work()
      if (done !== undefined) setNotice(done)
    } catch (err) {
      setError(errorText(err))
    }
  }
  const replace = (agent: AgentView): void => { setAgents((list) => list.map((a) => (a.id === agent.id ? agent : a))) }

  const create = async (e: Event): Promise<void> => {
    e.preventDefault()
    await run(async () => {
      const agent = await api.createAgent({ ...form, login: form.login.trim(), displayName: form.displayName.trim() })
      setAgents((list) => [...list, agent].sort((a, b) => a.login.localeCompare(b.login)))
      setForm({ login: '', displayName: '', role: 'agent', password: '' })
    }, 'Agent created.')
  }

  const resetPassword = async (agent: AgentView, input: HTMLInputElement | null): Promise<void> => {
    // The row's field, or (left empty) a prompt: either way the password never sits in the page's state.
    const typed = input?.value ?? ''
    const password = typed !== '' ? typed : (window.prompt(`New password for ${agent.login} (12 to 256 characters)`) ?? '')
    if (password === '') return
    await run(async () => {
      await api.resetPassword(agent.id, password)
      if (input !== null) input.value = ''
    }, `Password of ${agent.login} reset: their sessions ended.`)
  }

  return (
    <main class='agents'>
      <h1>Agents</h1>
      {error !== null && <p class='error' role='alert' data-testid='agents-error'>{error}</p>}
      {notice !== null && <p class='notice' role='status'>{notice}</p>}
      <table data-testid='agents-table'>
        <thead><tr><th>Login</th><th>Name</th><th>Role</th><th>State</th><th>Last login</th><th>Password</th></tr></thead>
        <tbody>
          {agents.map((a) => {
            let passwordInput: HTMLInputElement | null = null
            return (
              <tr key={a.id} data-testid='agent-row' data-login={a.login} class={a.disabled ? 'disabled' : undefined}>
                <td><code>{a.login}</code>{a.id === me.id ? ' (you)' : ''}</td>
                <td>{a.displayName}</td>
                <td>
                  <select data-testid='agent-role' aria-label={`Role of ${a.login}`} value={a.role} onChange={(e) => { const role = e.currentTarget.value as AgentRole; void run(async () => { replace(await api.updateAgent(a.id, { role })) }).then(load) }}>
                    <option value='agent'>agent</option>
                    <option value='admin'>admin</option>
                  </select>
                </td>
                <td>
                  {a.disabled
                    ? <button type='button' data-testid='agent-enable' onClick={() => { void run(async () => { replace(await api.updateAgent(a.id, { disabled: false })) }) }}>Enable</button>
                    : <button type='button' data-testid='agent-disable' onClick={() => { void run(async () => { replace(await api.updateAgent(a.id, { disabled: true })) }) }}>Disable</button>}
                  {a.disabled ? ' disabled' : ''}
                </td>
                <td>{a.lastLoginAt !== undefined ? new Date(a.lastLoginAt).toLocaleString() : '—'}</td>
                <td>
                  <div class='row'>
                    <input type='password' aria-label={`New password for ${a.login}`} placeholder='new password (12+)' minLength={12} maxLength={256} autocomplete='new-password' ref={(el) => { passwordInput = el }} />
                    <button type='button' data-testid='agent-reset-password' onClick={() => { void resetPassword(a, passwordInput) }}>Reset</button>
                  </div>
                </td>
              </tr>
            )
          })}
        </tbody>
      </table>

      <h2>New agent</h2>
      <form class='create-agent' noValidate onSubmit={(e) => { void create(e) }}>
        <label>Login <input data-testid='agent-create-login' required maxLength={64} pattern='[a-zA-Z0-9._\-]+' value={form.login} onInput={(e) => { setForm({ ...form, login: e.currentTarget.value }) }} /></label>
        <label>Display name <input data-testid='agent-create-name' required maxLength={64} value={form.displayName} onInput={(e) => { setForm({ ...form, displayName: e.currentTarget.value }) }} /></label>
        <label>Role
          <select data-testid='agent-create-role' value={form.role} onChange={(e) => { setForm({ ...form, role: e.currentTarget.value as AgentRole }) }}>
            <option value='agent'>agent</option>
            <option value='admin'>admin</option>
          </select>
        </label>
        <label>Password <input data-testid='agent-create-password' type='password' required minLength={12} maxLength={256} autocomplete='new-password' value={form.password} onInput={(e) => { setForm({ ...form, password: e.currentTarget.value }) }} /></label>
        <button type='submit' data-testid='agent-create-submit'>Create</button>
      </form>
    </main>
  )
}
