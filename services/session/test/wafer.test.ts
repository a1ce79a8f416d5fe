import t from 'tap'
import { encryptOpenData } from '@weapp/wechat'
import type { MemorySessionsRepository, MemoryUsersRepository } from '../src/repositories/memory.js'
import { WAFER_MAGIC } from '../src/wafer/protocol.js'
import { callInternal, identityOf, resolve, setup, type Sim } from './fixtures/harness.js'
import type { FastifyInstance } from 'fastify'

async function waferHeaders (sim: Sim, user: string, nickName?: string): Promise<{ headers: Record<string, string>, openid: string, rawData: string }> {
  const login = await sim.control.loginCode({ user, ...(nickName !== undefined ? { nickName } : {}) })
  return {
    headers: { 'x-wx-code': login.code, 'x-wx-encrypted-data': login.userInfo.encryptedData, 'x-wx-iv': login.userInfo.iv },
    openid: login.openid,
    rawData: login.userInfo.rawData
  }
}

/** The session_key the simulator gives this user (stable per user), learnt the way the server does: by a login. */
async function sessionKeyOf (app: FastifyInstance, sim: Sim, user: string): Promise<{ sessionKey: string, openid: string }> {
  const { code, openid } = await sim.control.loginCode({ user })
  const res = await callInternal(app, { method: 'POST', url: '/api/login', payload: { code } })
  if (res.statusCode !== 200) throw new Error(`login failed: ${res.body}`)
  const sessionKey = await app.usersRepository.getSessionKey(openid)
  if (sessionKey === null) throw new Error('no session key')
  return { sessionKey, openid }
}

t.test('generation 1: login, resolve, /me, already logged in', async (t) => {
  const { app, sim, config } = await setup(t)
  const { headers, openid, rawData } = await waferHeaders(sim, 'alice', 'Alice')
  const res = await callInternal(app, { url: '/login', headers })
  t.equal(res.statusCode, 200)
  const body = res.json()
  t.same(Object.keys(body).sort(), [WAFER_MAGIC, 'session'].sort())
  t.equal(body[WAFER_MAGIC], 1)
  t.same(Object.keys(body.session).sort(), ['id', 'skey'])
  t.match(body.session.id, /^[0-9a-f]{64}$/)
  t.match(body.session.skey, /^[0-9a-f]{40}$/)

  const identity = await identityOf(app, { waferId: body.session.id, waferSkey: body.session.skey })
  t.equal(identity.via, 'wafer1')
  t.equal(identity.openid, openid)
  t.equal((await resolve(app, { waferId: body.session.id, waferSkey: 'f'.repeat(40) })).statusCode, 401, 'skey must match the id')

  const me = await callInternal(app, { url: '/me', identity })
  t.equal(me.statusCode, 200)
  const info = me.json()
  t.match(info, { ...JSON.parse(rawData), openId: openid, watermark: { appid: config.APP_ID } }, 'the decrypted userInfo')
  t.equal(info.nickName, 'Alice')

  const again = await callInternal(app, { url: '/login', identity, headers: (await waferHeaders(sim, 'alice')).headers })
  t.same(again.json(), { code: 0, message: '小程序会话已登录' })
  t.equal((await callInternal(app, { url: '/me' })).body, '{"noBody":true}', 'no session: the seed answer')

  const post = await callInternal(app, { method: 'POST', url: '/login', headers: { ...(await waferHeaders(sim, 'bob')).headers, 'content-type': 'application/json' }, payload: '' })
  t.equal(post.json()[WAFER_MAGIC], 1, 'POST with an empty JSON body works too')
  const junk = await callInternal(app, { method: 'POST', url: '/login', headers: { ...(await waferHeaders(sim, 'bob')).headers, 'content-type': 'text/plain' }, payload: 'whatever' })
  t.equal(junk.json()[WAFER_MAGIC], 1, 'the body is ignored')

  const bearerUser = await sessionKeyOf(app, sim, 'carol')
  const bearerIdentity = { kind: 'user' as const, openid: bearerUser.openid, sessionId: 'x', via: 'bearer' as const }
  t.same((await callInternal(app, { url: '/me', identity: bearerIdentity })).json(), { noBody: true }, 'a user without wafer user info')
})

t.test('generation 1: the oldest client (X-WX-Encrypt-Data, no iv)', async (t) => {
  const { app, sim, config } = await setup(t)
  const { sessionKey, openid } = await sessionKeyOf(app, sim, 'dora')
  const payload = { openId: openid, nickName: 'Dora', gender: 2, watermark: { appid: config.APP_ID, timestamp: 1 } }
  const { encryptedData } = encryptOpenData(sessionKey, payload, Buffer.from(sessionKey, 'base64'))
  const { code } = await sim.control.loginCode({ user: 'dora' })
  const res = await callInternal(app, { url: '/login', headers: { 'x-wx-code': code, 'x-wx-encrypt-data': encryptedData } })
  t.equal(res.json()[WAFER_MAGIC], 1)
  const identity = await identityOf(app, { waferId: res.json().session.id, waferSkey: res.json().session.skey })
  t.same((await callInternal(app, { url: '/me', identity })).json(), payload)
})

t.test('generation 1 failures: HTTP 200 {type: ERR_LOGIN_FAILED, message}, no magic key, nothing written', async (t) => {
  const { app, sim } = await setup(t)
  const users = app.usersRepository as MemoryUsersRepository
  const sessions = app.sessionsRepository as MemorySessionsRepository
  const { sessionKey, openid } = await sessionKeyOf(app, sim, 'erin')
  const sessionsBefore = sessions.size
  const userBefore = await users.findByOpenid(openid)

  const good = await waferHeaders(sim, 'erin')
  const wrongApp = encryptOpenData(sessionKey, { openId: openid, nickName: 'E', watermark: { appid: 'wx0000000000000000', timestamp: 1 } })
  const otherUser = await waferHeaders(sim, 'mallory')
  const cases: Array<[string, Record<string, string>, RegExp]> = [
    ['no headers', {}, /X-WX-Code/],
    ['no encrypted data', { 'x-wx-code': good.headers['x-wx-code']! }, /X-WX-Encrypted-Data/],
    ['no iv', { 'x-wx-code': good.headers['x-wx-code']!, 'x-wx-encrypted-data': good.headers['x-wx-encrypted-data']! }, /X-WX-IV/],
    ['forged code', { ...good.headers, 'x-wx-code': 'forged-code' }, /code/],
    ['garbage data', { ...(await waferHeaders(sim, 'erin')).headers, 'x-wx-encrypted-data': 'AAAA' }, /Open data/],
    ['wrong watermark', { ...(await waferHeaders(sim, 'erin')).headers, 'x-wx-encrypted-data': wrongApp.encryptedData, 'x-wx-iv': wrongApp.iv }, /watermark/],
    ["another user's data", { ...(await waferHeaders(sim, 'erin')).headers, 'x-wx-encrypted-data': otherUser.headers['x-wx-encrypted-data']!, 'x-wx-iv': otherUser.headers['x-wx-iv']! }, /Open data|watermark/]
  ]
  for (const [name, headers, message] of cases) {
    const res = await callInternal(app, { url: '/login', headers })
    t.equal(res.statusCode, 200, name)
    const body = res.json()
    t.same(Object.keys(body).sort(), ['message', 'type'], name)
    t.equal(body.type, 'ERR_LOGIN_FAILED', name)
    t.match(body.message, message, name)
  }
  await sim.control.fault({ path: '/sns/jscode2session', errcode: -1, count: 20 })
  const busy = await callInternal(app, { url: '/login', headers: (await waferHeaders(sim, 'erin')).headers })
  t.match(busy.json(), { type: 'ERR_LOGIN_FAILED', message: /busy/ })
  await sim.control.clearFaults()

  t.equal(sessions.size, sessionsBefore, 'no session created')
  t.same(await users.findByOpenid(openid), userBefore, 'user untouched (no wxUserInfo stored)')
  t.equal(await users.findByOpenid(otherUser.openid), null)
})

t.test('generation 2: login, resolve, /weapp/user, loginWithCode', async (t) => {
  const { app, sim, clock, config } = await setup(t)
  const { headers, openid, rawData } = await waferHeaders(sim, 'frank', 'Frank')
  const res = await callInternal(app, { url: '/weapp/login', headers })
  t.equal(res.statusCode, 200)
  const body = res.json()
  t.same(Object.keys(body).sort(), ['code', 'data'])
  t.equal(body.code, 0)
  t.same(Object.keys(body.data).sort(), ['skey', 'time', 'userinfo'])
  t.match(body.data.skey, /^[0-9a-f]{40}$/)
  t.equal(body.data.time, Math.floor(clock.ms / 1000))
  t.match(body.data.userinfo, { ...JSON.parse(rawData), openId: openid, watermark: { appid: config.APP_ID } })

  const identity = await identityOf(app, { skey: body.data.skey })
  t.equal(identity.via, 'wafer2')
  const user = await callInternal(app, { url: '/weapp/user', identity })
  t.same(user.json(), { code: 0, data: body.data.userinfo })
  t.same((await callInternal(app, { url: '/weapp/user' })).json(), { code: -1, data: {} }, 'no session')

  const { code } = await sim.control.loginCode({ user: 'frank' })
  const withCode = await callInternal(app, { url: '/weapp/login', headers: { 'x-wx-code': code } })
  t.equal(withCode.json().code, 0)
  t.same(withCode.json().data.userinfo, body.data.userinfo, 'the stored user info')
  t.not(withCode.json().data.skey, body.data.skey, 'a new session')
  t.equal((await identityOf(app, { skey: withCode.json().data.skey })).openid, openid)
  t.equal((await resolve(app, { skey: body.data.skey })).statusCode, 200, 'the first session still valid')

  const post = await callInternal(app, { method: 'POST', url: '/weapp/login', headers: { ...(await waferHeaders(sim, 'frank')).headers, 'content-type': 'application/json' }, payload: '' })
  t.equal(post.json().code, 0, 'POST works too')
})

t.test('generation 2 failures: HTTP 200 {code: -1, error}; nothing written', async (t) => {
  const { app, sim } = await setup(t)
  const users = app.usersRepository as MemoryUsersRepository
  const sessions = app.sessionsRepository as MemorySessionsRepository

  const expectError = async (headers: Record<string, string>, error: RegExp | string): Promise<void> => {
    const res = await callInternal(app, { url: '/weapp/login', headers })
    t.equal(res.statusCode, 200)
    const body = res.json()
    t.same(Object.keys(body).sort(), ['code', 'error'])
    t.equal(body.code, -1)
    if (typeof error === 'string') t.equal(body.error, error)
    else t.match(body.error, error)
  }
  await expectError({}, 'ERR_HEADER_MISSED')
  const g = await waferHeaders(sim, 'gina')
  await expectError({ 'x-wx-encrypted-data': g.headers['x-wx-encrypted-data']!, 'x-wx-iv': g.headers['x-wx-iv']! }, 'ERR_HEADER_MISSED')
  await expectError({ 'x-wx-code': g.headers['x-wx-code']!, 'x-wx-iv': g.headers['x-wx-iv']! }, 'ERR_HEADER_MISSED')
  t.equal((await sim.control.stats()).calls['/sns/jscode2session'] ?? 0, 0, 'a missing header costs no WeChat call (the code stays usable)')

  await expectError({ ...g.headers, 'x-wx-code': 'forged' }, /^ERR_GET_SESSION_KEY\n\{"errcode":40029,"errmsg":".*"\}$/)
  await expectError({ ...(await waferHeaders(sim, 'gina')).headers, 'x-wx-iv': 'AAAAAAAAAAAAAAAAAAAAAA==' }, /^ERR_IN_DECRYPT_DATA\n/)
  await expectError({ ...(await waferHeaders(sim, 'gina')).headers, 'x-wx-encrypted-data': 'not base64!' }, /^ERR_IN_DECRYPT_DATA\n/)
  const { code } = await sim.control.loginCode({ user: 'gina' })
  await expectError({ 'x-wx-code': code }, /^ERR_GET_SESSION_KEY\n/)
  await sim.control.fault({ path: '/sns/jscode2session', errcode: -1, count: 20 })
  await expectError((await waferHeaders(sim, 'gina')).headers, /^ERR_GET_SESSION_KEY\n\{"errcode":-1,/)
  await sim.control.clearFaults()

  t.equal(await users.findByOpenid(g.openid), null, 'no user created by a failed login')
  t.equal(sessions.size, 0)
  t.equal(g.headers['x-wx-code'] !== undefined, true)
  // The code refused for a missing header is still good.
  const late = await callInternal(app, { url: '/weapp/login', headers: g.headers })
  t.equal(late.json().code, 0)
})
