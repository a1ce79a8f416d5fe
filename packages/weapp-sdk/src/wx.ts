// The part of the mini-program API the SDK uses. Typed by miniprogram-api-typings; nothing else is
// touched, so the SDK runs in any base library that has these (wx.connectSocket's SocketTask: 1.7.0).

export type WxApi = Pick<WechatMiniprogram.Wx,
  'login' | 'checkSession' | 'request' | 'connectSocket' | 'getStorageSync' | 'setStorageSync' | 'removeStorageSync'>

/** The `wx` handed in, else the global one (read when a client is created, not when the file loads). */
export function resolveWx (given: WxApi | undefined): WxApi {
  if (given !== undefined) return given
  if (typeof wx === 'undefined') throw new TypeError('weapp-sdk: no global `wx`; run inside a mini-program or pass options.wx')
  return wx
}
