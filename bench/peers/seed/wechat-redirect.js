// Preloaded by the bench (node --require ./wechat-redirect.js app.js), not part of the tutorial.
// wafer-node-session calls jscode2session at https://api.weixin.qq.com, hard-coded in its lib/login.js
// (no option for another base), and that host is unreachable here. With WECHAT_API_BASE set, requests to
// that one host go to it instead (the project's WeChat simulator, plain http); all others are untouched.
const http = require('http')
const https = require('https')

const WECHAT_HOST = 'api.weixin.qq.com'
const base = process.env.WECHAT_API_BASE

if (base) {
  const target = new URL(base)
  const prefix = target.pathname.replace(/\/+$/, '')
  const httpsRequest = https.request
  const isWeChat = (options) => options !== null && typeof options === 'object' && !(options instanceof URL) &&
    (options.hostname || options.host) === WECHAT_HOST

  https.request = function request (options, ...rest) {
    if (!isWeChat(options)) return httpsRequest.call(this, options, ...rest)
    // The https agent and TLS settings do not apply to the plain-http target: Node's default http agent.
    return http.request({
      ...options,
      protocol: 'http:',
      host: target.hostname,
      hostname: target.hostname,
      port: target.port || 80,
      path: prefix + options.path,
      agent: undefined
    }, ...rest)
  }
  https.get = function get (...args) {
    const req = https.request(...args)
    req.end()
    return req
  }
}
