import { ErrorCodes, NetworkError, WeappError } from './errors.js'
import type { WxApi } from './wx.js'

/** What wx.request can send. There is no PATCH: the backend takes PUT for partial updates (PUT /api/me). */
export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'DELETE' | 'HEAD' | 'OPTIONS'
const METHODS: readonly string[] = ['GET', 'POST', 'PUT', 'DELETE', 'HEAD', 'OPTIONS']

export interface HttpRequest {
  url: string
  method?: HttpMethod
  data?: string | object | ArrayBuffer
  header?: Record<string, string>
  timeout?: number
}

export interface HttpResponse {
  statusCode: number
  /** Parsed JSON when the body is JSON (wx's `dataType: 'json'`), else the text; '' for an empty body. */
  data: unknown
  header: Record<string, string>
}

/** wx.request as a promise: resolves with any HTTP answer (as wx does), rejects with NetworkError when there is none. */
export function send (wx: WxApi, req: HttpRequest): Promise<HttpResponse> {
  return new Promise((resolve, reject) => {
    const method = req.method ?? 'GET'
    if (METHODS.indexOf(method) === -1) {
      reject(new WeappError(ErrorCodes.methodUnsupported, `wx.request cannot send ${String(method)}; use ${METHODS.join(', ')}`))
      return
    }
    const header: Record<string, string> = { 'content-type': 'application/json', ...req.header }
    const option: WechatMiniprogram.RequestOption = {
      url: req.url,
      method,
      header,
      dataType: 'json',
      responseType: 'text',
      success: (res) => {
        resolve({ statusCode: res.statusCode, data: res.data, header: lowerCaseKeys(res.header) })
      },
      fail: (err) => { reject(new NetworkError(err.errMsg)) }
    }
    if (req.data !== undefined) option.data = req.data
    if (req.timeout !== undefined) option.timeout = req.timeout
    wx.request(option)
  })
}

/** Header names differ in case between iOS, Android and DevTools; look them up in lower case. */
function lowerCaseKeys (header: Record<string, unknown> | undefined): Record<string, string> {
  const out: Record<string, string> = {}
  if (header === undefined || header === null) return out
  for (const key of Object.keys(header)) out[key.toLowerCase()] = String(header[key])
  return out
}
