import { ApiError } from './errors.js'
import { Auth, type LoginOptions, type Session, type User } from './login.js'
import { createRequester, resolveUrl, type Requester } from './request.js'
import { RealtimeSocket, type SocketOptions } from './socket.js'
import { DEFAULT_STORAGE_KEY, TokenStore } from './storage.js'
import { resolveWx, type WxApi } from './wx.js'

export interface ClientOptions {
  /** The API host, e.g. `https://api.example.com` (a request legal domain of the mini-program). */
  baseUrl: string
  /** The socket host; default: baseUrl with http(s) turned into ws(s) (a socket legal domain). */
  wsUrl?: string
  /** wx.request timeout per request (ms); default: app.json's networkTimeout.request. */
  timeoutMs?: number
  /** Storage key of the token (default `weapp-sdk:session`). */
  storageKey?: string
  /** Route paths, for a backend mounted elsewhere. */
  paths?: Partial<typeof DEFAULT_PATHS>
  /** The wx API to use (tests); default: the global `wx`. */
  wx?: WxApi
}

export const DEFAULT_PATHS = {
  login: '/api/login',
  logout: '/api/logout',
  me: '/api/me',
  tickets: '/api/ws/tickets',
  ws: '/ws'
}

export interface WeappClient {
  /** wx.login → POST /api/login, or the stored token when wx.checkSession says it is still good. Single flight. */
  login: (options?: LoginOptions) => Promise<Session>
  /** POST /api/logout (the token dies at once on the server) and forget the token here. */
  logout: () => Promise<void>
  /** Authenticated wx.request; see Requester. */
  request: Requester
  /** GET /api/me. */
  me: () => Promise<User>
  /** PUT /api/me with `{ nickname?, avatarUrl? }` (a partial update; wx.request cannot send PATCH). */
  updateMe: (patch: { nickname?: string, avatarUrl?: string }) => Promise<User>
  /** A realtime socket on /ws (connects at once unless `autoConnect: false`). */
  socket: (options?: SocketOptions) => RealtimeSocket
  /** The token in use, or null before the first login. */
  token: () => string | null
}

export function createClient (options: ClientOptions): WeappClient {
  if (typeof options?.baseUrl !== 'string' || !/^https?:\/\//.test(options.baseUrl)) {
    throw new TypeError('weapp-sdk: options.baseUrl must be an http(s) URL')
  }
  const wx = resolveWx(options.wx)
  const paths = { ...DEFAULT_PATHS, ...options.paths }
  const baseUrl = options.baseUrl.replace(/\/+$/, '')
  const wsUrl = (options.wsUrl ?? baseUrl.replace(/^http/, 'ws')).replace(/\/+$/, '')
  const store = new TokenStore(wx, options.storageKey ?? DEFAULT_STORAGE_KEY)
  const auth = new Auth({ wx, store, loginUrl: resolveUrl(baseUrl, paths.login), timeout: options.timeoutMs })
  const request = createRequester({ wx, auth, baseUrl, timeout: options.timeoutMs })

  return {
    login: async (opts) => await auth.login(opts),
    logout: async () => {
      const token = auth.token() ?? store.get()?.token ?? null
      auth.forget()
      if (token === null) return
      try {
        await request({ path: paths.logout, method: 'POST', auth: false, header: { authorization: `Bearer ${token}` } })
      } catch (err) {
        // Already dead on the server: logged out all the same.
        if (!(err instanceof ApiError && err.statusCode === 401)) throw err
      }
    },
    request,
    me: async () => await request<User>({ path: paths.me }),
    updateMe: async (patch) => await request<User>({ path: paths.me, method: 'PUT', data: patch }),
    socket: (socketOptions) => new RealtimeSocket({ wx, auth, request, wsUrl, ticketPath: paths.tickets, wsPath: paths.ws }, socketOptions),
    token: () => auth.token()
  }
}
