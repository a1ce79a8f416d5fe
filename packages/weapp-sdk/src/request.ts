import { ApiError } from './errors.js'
import { send, type HttpMethod, type HttpResponse } from './http.js'
import type { Auth } from './login.js'
import type { WxApi } from './wx.js'

export interface RequestOptions {
  /** A path on the API host (`/api/me`) or an absolute URL. */
  path: string
  method?: HttpMethod
  /** JSON body (or query parameters for GET, as wx.request does). */
  data?: string | object | ArrayBuffer
  header?: Record<string, string>
  /** Send the bearer token (default true). `false` for public routes. */
  auth?: boolean
  timeout?: number
}

export interface Requester {
  /** Resolves with the body of a 2xx answer (null for 204); rejects with ApiError, NetworkError or LoginError. */
  <T = unknown>(options: RequestOptions): Promise<T>
  /** Like the call itself but resolves with the whole 2xx response. */
  raw: (options: RequestOptions) => Promise<HttpResponse>
}

export interface RequesterOptions {
  wx: WxApi
  auth: Auth
  baseUrl: string
  timeout?: number
}

/**
 * wx.request with our session: attaches `Authorization: Bearer`, and on a 401 logs in again once and
 * retries once. A second 401 is not retried (no loop): it rejects with the server's ApiError.
 */
export function createRequester (options: RequesterOptions): Requester {
  const { wx, auth } = options

  function attempt (req: RequestOptions, token: string | null): Promise<HttpResponse> {
    const header: Record<string, string> = { ...req.header }
    if (token !== null) header.authorization = `Bearer ${token}`
    const timeout = req.timeout ?? options.timeout
    return send(wx, { url: resolveUrl(options.baseUrl, req.path), method: req.method ?? 'GET', data: req.data, header, timeout })
  }

  async function raw (req: RequestOptions): Promise<HttpResponse> {
    const useAuth = req.auth !== false
    const token = useAuth ? await auth.ensure() : null
    let res = await attempt(req, token)
    if (res.statusCode === 401 && token !== null) {
      const renewed = await auth.renew(token)
      res = await attempt(req, renewed)
    }
    if (res.statusCode < 200 || res.statusCode > 299) throw new ApiError(res.statusCode, res.data, res.header['x-request-id'])
    return res
  }

  const request = (async <T>(req: RequestOptions): Promise<T> => {
    const res = await raw(req)
    return (res.statusCode === 204 || res.data === '' ? null : res.data) as T
  }) as Requester
  request.raw = raw
  return request
}

export function resolveUrl (base: string, path: string): string {
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(path)) return path
  return base.replace(/\/+$/, '') + (path.startsWith('/') ? path : `/${path}`)
}
