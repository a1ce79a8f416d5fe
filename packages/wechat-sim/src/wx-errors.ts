import { rid } from './random-ids.js'

/** errmsg texts as WeChat words them (before the " rid: …" suffix). */
const ERRMSG: Record<number, string> = {
  [-1]: 'system error',
  40001: 'invalid credential, access_token is invalid or not latest',
  40002: 'invalid grant_type',
  40003: 'invalid openid',
  40004: 'invalid media type',
  40005: 'invalid file type',
  40006: 'invalid media size',
  40007: 'invalid media_id',
  40008: 'invalid message type',
  40013: 'invalid appid',
  40014: 'invalid access_token',
  40029: 'invalid code',
  40101: 'missing parameter',
  40125: 'invalid appsecret',
  40163: 'code been used',
  40226: 'high risk user',
  41001: 'access_token missing',
  41002: 'appid missing',
  41004: 'appsecret missing',
  41005: 'media data missing',
  41008: 'missing code',
  42001: 'access_token expired',
  44004: 'empty content',
  45009: 'reach max api daily quota limit',
  45011: 'api minute-quota reach limit must slower retry next minute',
  45015: 'response out of time limit or subscription is canceled',
  45047: 'out of response count limit',
  45072: 'command field value is invalid',
  45080: 'no message exchanged with the user in the last 30 seconds',
  45081: 'already typing',
  47001: 'data format error',
  48001: 'api unauthorized',
  87009: 'invalid signature'
}

export interface WxErrorBody {
  errcode: number
  errmsg: string
}

/** A WeChat failure answer: errcode plus errmsg ending in a fresh rid, as support tickets expect. */
export function wxError (errcode: number, errmsg?: string): WxErrorBody {
  return { errcode, errmsg: `${errmsg ?? ERRMSG[errcode] ?? 'simulated error'} rid: ${rid()}` }
}

export const WX_OK = Object.freeze({ errcode: 0, errmsg: 'ok' })
