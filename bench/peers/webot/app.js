// app.js: node-webot's `wechat` middleware on Express, as its README sets it up, answering the safe-mode
// (encrypted) XML pushes WeChat sends to the message URL: msg_signature checked, the message decrypted and
// parsed, and answered without a reply (`res.reply('')`, node-webot's answer when there is nothing to say,
// which WeChat takes like `success`) or, with WEBOT_REPLY=text, with an encrypted text reply. No de-dup and
// nothing stored: the peer of `pnpm bench:peers` (bench/peers.ts). See README.md.
const express = require('express')
const wechat = require('wechat')

const config = {
  token: process.env.WECHAT_TOKEN,
  appid: process.env.APP_ID,
  encodingAESKey: process.env.WECHAT_ENCODING_AES_KEY,
  checkSignature: true
}
for (const [name, value] of Object.entries({ WECHAT_TOKEN: config.token, APP_ID: config.appid, WECHAT_ENCODING_AES_KEY: config.encodingAESKey })) {
  if (!value) throw new Error(`${name} is required`)
}
const replyText = process.env.WEBOT_REPLY === 'text'
const path = process.env.WEBOT_PATH || '/wechat/callback'

const app = express()
app.use(express.query())
app.use(path, wechat(config, (req, res, next) => {
  // 微信输入信息都在 req.weixin 上
  const message = req.weixin
  res.reply(replyText ? `收到：${message.Content || message.MsgType}` : '')
}))
// What the bench polls until the server is up.
app.get('/', (req, res) => { res.end('webot') })

app.listen(Number(process.env.PORT || 8766), process.env.HOST || '127.0.0.1')
