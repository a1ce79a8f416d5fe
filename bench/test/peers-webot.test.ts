// bench:peers' push peer: node-webot's `wechat` middleware on Express (bench/peers/webot) checks the
// msg_signature of a safe-mode XML push built as WeChat builds it (the simulator's buildPush), decrypts it
// and answers: empty by default, an encrypted text reply with WEBOT_REPLY=text; a forged signature is 401.
import { randomBytes } from 'node:crypto'
import { buildPush } from '@weapp/wechat-sim'
import t from 'tap'
import { stopAll, type Running } from '../lib/processes.js'
import { startWebot } from '../lib/peers-webot.js'
import { freePort } from '../../scripts/redis-server.js'

const settings = {
  token: randomBytes(16).toString('hex'),
  encodingAESKey: randomBytes(32).toString('base64').slice(0, 43),
  appId: `wx${randomBytes(8).toString('hex')}`
}
const started: Running[] = []
t.teardown(async () => { await stopAll(started) })

async function push (webot: Running, tamper?: 'wrong-msg-signature'): Promise<Response> {
  const built = buildPush({
    url: `${webot.url}/wechat/callback`,
    token: settings.token,
    encodingAESKey: settings.encodingAESKey,
    appId: settings.appId,
    mode: 'safe',
    format: 'xml',
    ...(tamper === undefined ? {} : { tamper }),
    message: { ToUserName: 'gh_test', FromUserName: 'oUser1', CreateTime: Math.floor(Date.now() / 1000), MsgType: 'text', Content: '你好', MsgId: '6000000000000000001' }
  })
  return await fetch(built.url, { method: 'POST', headers: { 'content-type': 'text/xml' }, body: built.body })
}

t.test('a safe-mode push is decrypted and answered empty; a wrong msg_signature is refused', async (t) => {
  const webot = await startWebot('webot', await freePort(), settings)
  started.push(webot)
  const ok = await push(webot)
  t.equal(ok.status, 200)
  t.equal(await ok.text(), '', "node-webot's res.reply('')")
  const forged = await push(webot, 'wrong-msg-signature')
  t.equal(forged.status, 401)
  t.equal(await forged.text(), 'Invalid signature')
})

t.test('WEBOT_REPLY=text answers an encrypted reply (the message was decrypted and parsed)', async (t) => {
  const webot = await startWebot('webot-text', await freePort(), { ...settings, reply: 'text' })
  started.push(webot)
  const res = await push(webot)
  t.equal(res.status, 200)
  t.match(await res.text(), /^<xml><Encrypt><!\[CDATA\[[A-Za-z0-9+/=]+\]\]><\/Encrypt>.*<MsgSignature>/s)
})
