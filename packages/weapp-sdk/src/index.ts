// @weapp/weapp-sdk: the mini-program side of the weapp backend. Built to one CommonJS file
// (dist/weapp-sdk.js) that a mini-program copies and `require`s; it uses only wx.* APIs.

export { createClient, DEFAULT_PATHS, type ClientOptions, type WeappClient } from './client.js'
export { ApiError, ErrorCodes, LoginError, NetworkError, WeappError, isErrorBody, type ErrorBody } from './errors.js'
export { Emitter, rethrowLater, type Listener } from './emitter.js'
export { Auth, type LoginOptions, type Session, type User } from './login.js'
export { createRequester, resolveUrl, type RequestOptions, type Requester } from './request.js'
export type { HttpMethod, HttpResponse } from './http.js'
export { RealtimeSocket, CLOSE_CODES, DEFAULT_CONNECT_TIMEOUT_MS, DEFAULT_HEARTBEAT_INTERVAL_MS, DEFAULT_HEARTBEAT_TIMEOUT_MS, type PushEvent, type SocketEvents, type SocketOptions, type SocketState } from './socket.js'
export { backoffDelay, equalJitter, fullJitter, DEFAULT_BACKOFF_BASE_MS, DEFAULT_BACKOFF_MAX_MS, type BackoffOptions, type Jitter } from './backoff.js'
export { TokenStore, DEFAULT_STORAGE_KEY, type StoredSession } from './storage.js'
export type { WxApi } from './wx.js'

export const VERSION = '0.1.0'
