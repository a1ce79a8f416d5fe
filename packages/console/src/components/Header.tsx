import type { ConsoleSession } from '@weapp/common'
import type { SocketState } from '../socket.js'

const STATE_LABEL: Record<SocketState, string> = { open: 'live', connecting: 'connecting…', closed: 'offline', replaced: 'paused: open in too many tabs (reload to resume)' }

export function Header ({ session, page, socketState, onLogout }: { session: ConsoleSession, page: 'inbox' | 'agents', socketState: SocketState, onLogout: () => void }) {
  return (
    <header class='topbar'>
      <strong class='brand'>Console</strong>
      <nav aria-label='Pages'>
        <a href='#/inbox' data-testid='nav-inbox' aria-current={page === 'inbox' ? 'page' : undefined}>Inbox</a>
        {session.agent.role === 'admin' && <a href='#/agents' data-testid='nav-agents' aria-current={page === 'agents' ? 'page' : undefined}>Agents</a>}
      </nav>
      <span class={`socket socket-${socketState}`} data-testid='socket-state' data-state={socketState === 'open' ? 'open' : 'closed'} title='Live updates'>{STATE_LABEL[socketState]}</span>
      <span class='whoami' data-testid='whoami'>{session.agent.displayName}</span>
      <button type='button' class='link' data-testid='logout' onClick={onLogout}>Log out</button>
    </header>
  )
}
