import type { AgentRole, AgentView, CannedReply, CardTemplate, ConsoleMessage, ConsoleSession, Conversation, Note, WindowView } from '@weapp/common'
import type { ListFilter } from './state.js'

// The console's HTTP client (docs/console.md, "HTTP API"):
// same-origin JSON with the session cookie, the CSRF token on every state-changing request, a 401 sends the
// app back to the login screen, and errors carry the server's code and message to show.

export class ApiError extends Error {
  constructor (readonly status: number, readonly code: string, message: string, readonly errcode?: number) {
    super(message)
  }

  /** What the agent reads: the message and its code. */
  describe (): string {
    return this.code === '' ? this.message : `${this.message} (${this.code})`
  }
}

export interface Page<T> { items: T[], next: string | null }
export type OutboundBody = { type: 'text', text: string } | { type: 'image', mediaId: string } | { type: 'miniprogrampage', title: string, pagepath: string, thumbMediaId: string }
export interface UserProfile { openid: string, unionid?: string, [field: string]: unknown }

let csrfToken = ''
let onUnauthorized: () => void = () => {}

/** The token from the login or `GET /me` answer, sent back as x-csrf-token. */
export function setCsrfToken (token: string): void {
  csrfToken = token
}

export function setUnauthorizedHandler (handler: () => void): void {
  onUnauthorized = handler
}

async function errorOf (response: Response): Promise<ApiError> {
  let body: { code?: unknown, message?: unknown, errcode?: unknown } = {}
  try {
    body = await response.json() as typeof body
  } catch {}
  const message = typeof body.message === 'string' ? body.message : `${response.status} ${response.statusText}`
  return new ApiError(response.status, typeof body.code === 'string' ? body.code : '', message, typeof body.errcode === 'number' ? body.errcode : undefined)
}

interface RequestOptions { method?: string, body?: unknown, form?: FormData, login?: boolean }

async function request<T> (path: string, options: RequestOptions = {}): Promise<T> {
  const method = options.method ?? 'GET'
  const headers: Record<string, string> = { accept: 'application/json' }
  if (method !== 'GET') headers['x-csrf-token'] = csrfToken
  let body: BodyInit | undefined
  if (options.form !== undefined) body = options.form
  else if (method !== 'DELETE' && method !== 'GET') {
    headers['content-type'] = 'application/json'
    body = JSON.stringify(options.body ?? {})
  }
  const response = await fetch(path, { method, headers, body, credentials: 'same-origin', cache: 'no-store' })
  if (!response.ok) {
    const error = await errorOf(response)
    // A wrong password is the login form's business; any other 401 means the session is gone.
    if (response.status === 401 && options.login !== true) onUnauthorized()
    throw error
  }
  if (response.status === 204) return undefined as T
  return await response.json() as T
}

const q = (params: Record<string, string | number | null | undefined>): string => {
  const search = new URLSearchParams()
  for (const [key, value] of Object.entries(params)) if (value !== null && value !== undefined && value !== '') search.set(key, String(value))
  const text = search.toString()
  return text === '' ? '' : `?${text}`
}
const conv = (openid: string): string => `/api/console/conversations/${encodeURIComponent(openid)}`

export const api = {
  login: async (login: string, password: string) => await request<ConsoleSession>('/api/console/login', { method: 'POST', body: { login, password }, login: true }),
  logout: async () => { await request<void>('/api/console/logout', { method: 'POST' }) },
  me: async () => await request<ConsoleSession>('/api/console/me'),

  agents: async () => await request<{ items: AgentView[] }>('/api/console/agents'),
  createAgent: async (body: { login: string, displayName: string, role: AgentRole, password: string }) => await request<AgentView>('/api/console/agents', { method: 'POST', body }),
  updateAgent: async (id: string, body: { displayName?: string, role?: AgentRole, disabled?: boolean }) => await request<AgentView>(`/api/console/agents/${encodeURIComponent(id)}`, { method: 'PATCH', body }),
  resetPassword: async (id: string, password: string) => { await request<void>(`/api/console/agents/${encodeURIComponent(id)}/password`, { method: 'PUT', body: { password } }) },
  user: async (openid: string) => await request<{ user: UserProfile }>(`/api/console/users/${encodeURIComponent(openid)}`),

  conversations: async (filter: ListFilter, before: string | null, limit = 30) => await request<Page<Conversation>>(`/api/console/conversations${q({ view: filter.view, status: filter.status, limit, before })}`),
  conversation: async (openid: string) => await request<{ conversation: Conversation, window: WindowView | null, typingUntil: string | null }>(conv(openid)),
  messages: async (openid: string, before: string | null, limit = 50) => await request<Page<ConsoleMessage>>(`${conv(openid)}/messages${q({ limit, before })}`),
  read: async (openid: string) => await request<{ conversation: Conversation }>(`${conv(openid)}/read`, { method: 'POST' }),
  claim: async (openid: string, force = false) => await request<{ conversation: Conversation }>(`${conv(openid)}/claim`, { method: 'POST', body: force ? { force } : {} }),
  release: async (openid: string) => await request<{ conversation: Conversation }>(`${conv(openid)}/release`, { method: 'POST' }),
  resolve: async (openid: string) => await request<{ conversation: Conversation }>(`${conv(openid)}/resolve`, { method: 'POST' }),
  reopen: async (openid: string) => await request<{ conversation: Conversation }>(`${conv(openid)}/reopen`, { method: 'POST' }),
  send: async (openid: string, body: OutboundBody) => await request<{ message: ConsoleMessage, window: WindowView | null }>(`${conv(openid)}/messages`, { method: 'POST', body }),
  typing: async (openid: string) => await request<{ sent: boolean, reason?: string }>(`${conv(openid)}/typing`, { method: 'POST' }),
  notes: async (openid: string) => await request<{ items: Note[] }>(`${conv(openid)}/notes`),
  addNote: async (openid: string, text: string) => await request<Note>(`${conv(openid)}/notes`, { method: 'POST', body: { text } }),
  handover: async (openid: string) => await request<{ conversation: Conversation }>(`${conv(openid)}/handover`, { method: 'POST' }),
  takeBack: async (openid: string) => await request<{ conversation: Conversation }>(`${conv(openid)}/handover`, { method: 'POST', body: { release: true } }),

  canned: async () => await request<{ items: CannedReply[] }>('/api/console/canned'),
  cardTemplates: async () => await request<{ items: CardTemplate[] }>('/api/console/card-templates'),
  saveCardTemplate: async (body: Omit<CardTemplate, 'id'>) => await request<CardTemplate>('/api/console/card-templates', { method: 'POST', body }),
  deleteCardTemplate: async (id: string) => { await request<void>(`/api/console/card-templates/${encodeURIComponent(id)}`, { method: 'DELETE' }) },
  uploadMedia: async (file: File) => {
    const form = new FormData()
    form.append('media', file, file.name)
    return await request<{ mediaId: string, expiresAt: string }>('/api/console/media', { method: 'POST', form })
  }
}
