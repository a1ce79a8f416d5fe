import t from 'tap'
import { loginStateSignature } from '@weapp/wechat'
import { APP, OTHER_APP, RID, classicToken, code2sessionUrl, getJson, loginCode, makeSim } from './fixtures/sim.js'

t.test('ok for HMAC-SHA256(session_key, ""), 87009 otherwise', async (t) => {
  const sim = await makeSim(t, { apps: [APP, OTHER_APP] })
  const token = await classicToken(sim)
  const { openid, session_key: sessionKey } = await getJson(sim, code2sessionUrl((await loginCode(sim)).code))
  const url = (sig: string, method = 'hmac_sha256', who = openid): string =>
    `/wxa/checksession?access_token=${token}&openid=${who}&signature=${sig}&sig_method=${method}`

  t.same(await getJson(sim, url(loginStateSignature(sessionKey, ''))), { errcode: 0, errmsg: 'ok' })
  t.same(await getJson(sim, url(loginStateSignature(sessionKey, '').toUpperCase())), { errcode: 0, errmsg: 'ok' }, 'hex case does not matter')

  const stale = await getJson(sim, url(loginStateSignature('AAAAAAAAAAAAAAAAAAAAAA==', '')))
  t.equal(stale.errcode, 87009)
  t.match(stale.errmsg, /^invalid signature/)
  t.match(stale.errmsg, RID)
  // Keyed with the base64-decoded bytes is the classic mistake; it must not pass.
  const wrongKey = (await import('node:crypto')).createHmac('sha256', Buffer.from(sessionKey, 'base64')).update('').digest('hex')
  t.equal((await getJson(sim, url(wrongKey))).errcode, 87009)
  t.equal((await getJson(sim, url(loginStateSignature(sessionKey, ''), 'md5'))).errcode, 87009, 'unknown sig_method')
  t.equal((await getJson(sim, url(loginStateSignature(sessionKey, ''), 'hmac_sha256', 'not-an-openid'))).errcode, 40003)

  const bob = await loginCode(sim, { user: 'bob' })
  t.equal((await getJson(sim, url(loginStateSignature(sessionKey, ''), 'hmac_sha256', bob.openid))).errcode, 87009, 'another user\'s key')
})

t.test('works for users this simulator instance never issued (restart)', async (t) => {
  const first = await makeSim(t)
  const { openid, session_key: sessionKey } = await getJson(first, code2sessionUrl((await loginCode(first)).code))
  const second = await makeSim(t)
  const token = await classicToken(second)
  const res = await getJson(second, `/wxa/checksession?access_token=${token}&openid=${openid}&signature=${loginStateSignature(sessionKey)}&sig_method=hmac_sha256`)
  t.equal(res.errcode, 0)
})

t.test('needs a valid access_token', async (t) => {
  const sim = await makeSim(t)
  t.equal((await getJson(sim, `/wxa/checksession?openid=o${'a'.repeat(27)}&signature=00&sig_method=hmac_sha256`)).errcode, 41001)
})
