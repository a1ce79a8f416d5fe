// 服务器地址。与种子教程的 config.js 一样，域名写在这里。
// 正式环境：填写已在小程序管理后台（开发管理 → 服务器域名）配置为 request 合法域名和 socket 合法域名的 HTTPS 域名。
// 本机调试：host 写 '127.0.0.1:8080'（npm run up 的网关），secure 改为 false，并在开发者工具里勾选“不校验合法域名”。
const host = 'api.example.com'
const secure = true

module.exports = {
  host,
  baseUrl: (secure ? 'https://' : 'http://') + host,
  wsUrl: (secure ? 'wss://' : 'ws://') + host,
  // 与 app.json 的 networkTimeout.request 一致。
  requestTimeoutMs: 10000,
  // 实时连接：应用层心跳与断线重连（指数退避，有上限，带随机抖动）。
  socket: {
    heartbeatIntervalMs: 25000,
    heartbeatTimeoutMs: 10000,
    backoff: { baseMs: 1000, maxMs: 30000 }
  }
}
