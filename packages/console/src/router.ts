// Hash routes (the gateway serves index.html alone): #/inbox, #/inbox/<openid>, #/agents.

export type Route = { page: 'inbox', openid: string | null } | { page: 'agents' }

export function parseRoute (hash: string): Route {
  const path = hash.replace(/^#/, '')
  if (path === '/agents') return { page: 'agents' }
  const match = /^\/inbox\/(.+)$/.exec(path)
  if (match !== null) {
    try {
      return { page: 'inbox', openid: decodeURIComponent(match[1] ?? '') }
    } catch {
      return { page: 'inbox', openid: null }
    }
  }
  return { page: 'inbox', openid: null }
}

export function inboxHref (openid: string | null): string {
  return openid === null ? '#/inbox' : `#/inbox/${encodeURIComponent(openid)}`
}
