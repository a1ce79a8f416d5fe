import t from 'tap'
import { encryptOpenData } from '@weapp/wechat'
import { DEFAULT_SIM_APP } from '@weapp/wechat-sim'
import { callInternal, identityOf, setup } from './fixtures/harness.js'

t.test('session_key and AppSecret appear in no response body and no log line', async (t) => {
  const logLines: string[] = []
  const { app, sim, config } = await setup(t, { WECHAT_TIMEOUT_MS: '300' }, { logLines })
  const bodies: string[] = []
  const openids = new Set<string>()
  const record = (res: { body: string }): void => { bodies.push(res.body) }

  // Every flow that touches a session_key, successful or not.
  for (const user of ['alice', 'bob']) {
    const login = await sim.control.loginCode({ user })
    openids.add(login.openid)
    const res = await callInternal(app, { method: 'POST', url: '/api/login', payload: { code: login.code } })
    record(res)
    const identity = await identityOf(app, { bearer: res.json().token })
    record(await callInternal(app, { url: '/api/me', identity }))
    record(await callInternal(app, { method: 'PATCH', url: '/api/me', identity, payload: { nickname: user } }))
    const phone = await sim.control.phoneCode({ user })
    record(await callInternal(app, { method: 'POST', url: '/api/me/phone', identity, payload: { code: phone.code } }))
    record(await callInternal(app, { method: 'POST', url: '/api/me/phone', identity, payload: { code: phone.code } }))

    const w1 = await sim.control.loginCode({ user })
    const gen1 = await callInternal(app, { url: '/login', headers: { 'x-wx-code': w1.code, 'x-wx-encrypted-data': w1.userInfo.encryptedData, 'x-wx-iv': w1.userInfo.iv } })
    record(gen1)
    const wafer1 = await identityOf(app, { waferId: gen1.json().session.id, waferSkey: gen1.json().session.skey })
    record(await callInternal(app, { url: '/me', identity: wafer1 }))
    const w2 = await sim.control.loginCode({ user })
    const gen2 = await callInternal(app, { url: '/weapp/login', headers: { 'x-wx-code': w2.code, 'x-wx-encrypted-data': w2.userInfo.encryptedData, 'x-wx-iv': w2.userInfo.iv } })
    record(gen2)
    record(await callInternal(app, { url: '/weapp/user', identity: await identityOf(app, { skey: gen2.json().data.skey }) }))
    record(await callInternal(app, { url: '/weapp/login', headers: { 'x-wx-code': (await sim.control.loginCode({ user })).code } }))
    // Failures: bad open data, a watermark for another app, a timeout, a busy WeChat.
    const sessionKey = (await app.usersRepository.getSessionKey(login.openid))!
    const foreign = encryptOpenData(sessionKey, { openId: login.openid, nickName: user, watermark: { appid: 'wx0000000000000000', timestamp: 1 } })
    record(await callInternal(app, { url: '/login', headers: { 'x-wx-code': (await sim.control.loginCode({ user })).code, 'x-wx-encrypted-data': foreign.encryptedData, 'x-wx-iv': foreign.iv } }))
    record(await callInternal(app, { url: '/weapp/login', headers: { 'x-wx-code': (await sim.control.loginCode({ user })).code, 'x-wx-encrypted-data': 'QUFBQUFBQUFBQUFBQUFBQQ==', 'x-wx-iv': w2.userInfo.iv } }))
    await sim.control.fault({ path: '/sns/jscode2session', delayMs: 1000, count: 4 })
    record(await callInternal(app, { method: 'POST', url: '/api/login', payload: { code: (await sim.control.loginCode({ user })).code } }))
    await sim.control.clearFaults()
    await sim.control.fault({ path: '/sns/jscode2session', errcode: -1, count: 10 })
    record(await callInternal(app, { url: '/login', headers: { 'x-wx-code': (await sim.control.loginCode({ user })).code, 'x-wx-encrypted-data': 'x', 'x-wx-iv': 'y' } }))
    await sim.control.clearFaults()
    record(await callInternal(app, { method: 'POST', url: '/api/logout', identity }))
  }

  const secrets: string[] = [config.APP_SECRET, DEFAULT_SIM_APP.appSecret]
  for (const openid of openids) {
    const key = await app.usersRepository.getSessionKey(openid)
    t.ok(key, 'the server does hold the session_key')
    secrets.push(key!)
  }
  t.ok(logLines.length > 20, `logs were captured (${logLines.length} lines)`)
  t.ok(logLines.some((l) => l.includes('"level":50') || l.includes('"level":40')), 'including warnings/errors')
  for (const secret of secrets) {
    t.notOk(bodies.some((b) => b.includes(secret)), 'no body carries a secret')
    t.notOk(logLines.some((l) => l.includes(secret)), 'no log line carries a secret')
  }
  t.notOk(bodies.some((b) => /"session_?key"\s*:/i.test(b)), 'no body has a session_key field')
  t.notOk(logLines.some((l) => /"sessionKey":"[^[]/.test(l) || /"session_key":"[^[]/.test(l)), 'no logged session_key field')
})
