import t from 'tap'
import type { UserIdentity } from '@weapp/common'
import type { MemoryUsersRepository } from '../src/repositories/memory.js'
import { callInternal, loginBearer, setup } from './fixtures/harness.js'

const PHONE = '/wxa/business/getuserphonenumber'

t.test('GET /api/me returns the user; needs a user identity', async (t) => {
  const { app, sim } = await setup(t)
  const { identity, body } = await loginBearer(app, sim, 'alice')
  const me = await callInternal(app, { url: '/api/me', identity })
  t.equal(me.statusCode, 200)
  t.same(me.json(), body.user)
  const anonymous = await callInternal(app, { url: '/api/me' })
  t.equal(anonymous.statusCode, 401)
  t.equal(anonymous.json().code, 'COMMON_AUTH_REQUIRED')
  const admin = await callInternal(app, { url: '/api/me', headers: { 'x-weapp-identity': Buffer.from(JSON.stringify({ kind: 'admin', keyId: 'k' })).toString('base64url') } })
  t.equal(admin.statusCode, 401)
  const ghost: UserIdentity = { kind: 'user', openid: 'o_nobody', sessionId: 's', via: 'bearer' }
  const missing = await callInternal(app, { url: '/api/me', identity: ghost })
  t.equal(missing.statusCode, 404)
  t.equal(missing.json().code, 'SESSION_USER_NOT_FOUND')
  const garbled = await callInternal(app, { url: '/api/me', headers: { 'x-weapp-identity': 'not-base64-json' } })
  t.equal(garbled.statusCode, 400)
})

t.test('PATCH /api/me: valid updates, trimmed nickname', async (t) => {
  const { app, sim } = await setup(t)
  const { identity } = await loginBearer(app, sim, 'alice')
  const a = await callInternal(app, { method: 'PATCH', url: '/api/me', identity, payload: { nickname: '  小明 Ming  ' } })
  t.equal(a.statusCode, 200)
  t.equal(a.json().nickname, '小明 Ming')
  const b = await callInternal(app, { method: 'PATCH', url: '/api/me', identity, payload: { avatarUrl: 'https://thirdwx.qlogo.cn/mmopen/abc/132' } })
  t.equal(b.statusCode, 200)
  t.same({ nickname: b.json().nickname, avatarUrl: b.json().avatarUrl }, { nickname: '小明 Ming', avatarUrl: 'https://thirdwx.qlogo.cn/mmopen/abc/132' })
  const both = await callInternal(app, { method: 'PATCH', url: '/api/me', identity, payload: { nickname: 'x'.repeat(64), avatarUrl: 'https://a.example/' + 'p'.repeat(1000) } })
  t.equal(both.statusCode, 200, 'limits are inclusive')
})

t.test('PATCH /api/me: every invalid body is 400 and changes nothing', async (t) => {
  const { app, sim } = await setup(t)
  const { identity } = await loginBearer(app, sim, 'alice')
  await callInternal(app, { method: 'PATCH', url: '/api/me', identity, payload: { nickname: 'Alice', avatarUrl: 'https://ok.example/a.png' } })
  const users = app.usersRepository as MemoryUsersRepository
  const before = await users.findByOpenid(identity.openid)
  const invalid: unknown[] = [
    {},
    { nickname: '' },
    { nickname: '   ' },
    { nickname: 'x'.repeat(65) },
    { nickname: 'bad\nname' },
    { nickname: 'nul\u0000' },
    { nickname: 'esc\u001b[31m' },
    { nickname: 'c1\u0085' },
    { nickname: 42 },
    { nickname: null },
    { avatarUrl: 'http://insecure.example/a.png' },
    { avatarUrl: 'javascript:alert(1)' },
    { avatarUrl: 'https://' },
    { avatarUrl: 'https://a.example/' + 'p'.repeat(1010) },
    { avatarUrl: 'https://a b.example/' },
    { nickname: 'Ok', openid: 'o_someone_else' },
    { nickname: 'Ok', phone: { phoneNumber: '1' } },
    [{ nickname: 'Ok' }],
    'Ok'
  ]
  for (const body of invalid) {
    const res = await callInternal(app, { method: 'PATCH', url: '/api/me', identity, payload: JSON.stringify(body), headers: { 'content-type': 'application/json' } })
    t.equal(res.statusCode, 400, JSON.stringify(body))
    t.equal(res.json().code, 'VALIDATION_FAILED')
  }
  const empty = await callInternal(app, { method: 'PATCH', url: '/api/me', identity })
  t.equal(empty.statusCode, 400, 'no body')
  t.same(await users.findByOpenid(identity.openid), before, 'nothing changed')
  const anonymous = await callInternal(app, { method: 'PATCH', url: '/api/me', payload: { nickname: 'x' } })
  t.equal(anonymous.statusCode, 401)
})

t.test('PUT /api/me: the same partial update (wx.request has no PATCH)', async (t) => {
  const { app, sim } = await setup(t)
  const { identity } = await loginBearer(app, sim, 'alice')
  const a = await callInternal(app, { method: 'PUT', url: '/api/me', identity, payload: { nickname: '  小红  ' } })
  t.equal(a.statusCode, 200)
  t.equal(a.json().nickname, '小红')
  const b = await callInternal(app, { method: 'PUT', url: '/api/me', identity, payload: { avatarUrl: 'https://thirdwx.qlogo.cn/mmopen/def/132' } })
  t.same({ nickname: b.json().nickname, avatarUrl: b.json().avatarUrl }, { nickname: '小红', avatarUrl: 'https://thirdwx.qlogo.cn/mmopen/def/132' }, 'fields not sent are kept')
  for (const body of [{}, { nickname: '' }, { nickname: 'Ok', openid: 'o_someone_else' }]) {
    const res = await callInternal(app, { method: 'PUT', url: '/api/me', identity, payload: body })
    t.equal(res.statusCode, 400, JSON.stringify(body))
    t.equal(res.json().code, 'VALIDATION_FAILED')
  }
  const anonymous = await callInternal(app, { method: 'PUT', url: '/api/me', payload: { nickname: 'x' } })
  t.equal(anonymous.statusCode, 401)
})

t.test('POST /api/me/phone: code → number stored; bad codes 400 and nothing written', async (t) => {
  const { app, sim } = await setup(t)
  const { identity } = await loginBearer(app, sim, 'alice')
  const users = app.usersRepository as MemoryUsersRepository

  const foreign = await sim.control.phoneCode({ user: 'mallory', phoneNumber: '13900000000' })
  const stolen = await callInternal(app, { method: 'POST', url: '/api/me/phone', identity, payload: { code: foreign.code } })
  t.equal(stolen.statusCode, 400, "another user's code is refused (WeChat checks the openid)")
  t.equal(stolen.json().code, 'SESSION_PHONE_CODE_INVALID')
  t.equal((await users.findByOpenid(identity.openid))?.phone, undefined)

  const { code, phoneNumber } = await sim.control.phoneCode({ user: 'alice', phoneNumber: '13812345678' })
  const ok = await callInternal(app, { method: 'POST', url: '/api/me/phone', identity, payload: { code } })
  t.equal(ok.statusCode, 200)
  t.same(ok.json().phone, { phoneNumber, purePhoneNumber: '13812345678', countryCode: '86' })
  t.same((await users.findByOpenid(identity.openid))?.phone, ok.json().phone)

  const intl = await sim.control.phoneCode({ user: 'alice', phoneNumber: '5551234567', countryCode: '1' })
  const second = await callInternal(app, { method: 'POST', url: '/api/me/phone', identity, payload: { code: intl.code } })
  t.same(second.json().phone, { phoneNumber: '+15551234567', purePhoneNumber: '5551234567', countryCode: '1' })

  const used = await callInternal(app, { method: 'POST', url: '/api/me/phone', identity, payload: { code: intl.code } })
  t.equal(used.statusCode, 400)
  t.equal(used.json().code, 'SESSION_PHONE_CODE_INVALID')
  const forged = await callInternal(app, { method: 'POST', url: '/api/me/phone', identity, payload: { code: 'forged' } })
  t.equal(forged.statusCode, 400)
  const expiring = await sim.control.phoneCode({ user: 'alice', phoneNumber: '13000000000', ttlMs: 1000 })
  await sim.control.advanceClock(2000)
  const expired = await callInternal(app, { method: 'POST', url: '/api/me/phone', identity, payload: { code: expiring.code } })
  t.equal(expired.statusCode, 400)
  for (const body of [{}, { code: 5 }, { code: '' }]) {
    const res = await callInternal(app, { method: 'POST', url: '/api/me/phone', identity, payload: body })
    t.equal(res.statusCode, 400)
    t.equal(res.json().code, 'VALIDATION_FAILED')
  }
  t.same((await users.findByOpenid(identity.openid))?.phone, second.json().phone, 'failures changed nothing')
  t.equal((await callInternal(app, { method: 'POST', url: '/api/me/phone', payload: { code: 'x' } })).statusCode, 401, 'needs a session')
})

t.test('POST /api/me/phone: access_token fetched once and reused; busy WeChat is 503', async (t) => {
  const { app, sim } = await setup(t)
  const { identity } = await loginBearer(app, sim, 'alice')
  for (let i = 0; i < 3; i++) {
    const { code } = await sim.control.phoneCode({ user: 'alice' })
    t.equal((await callInternal(app, { method: 'POST', url: '/api/me/phone', identity, payload: { code } })).statusCode, 200)
  }
  const calls = (await sim.control.stats()).calls
  t.equal(calls['/cgi-bin/stable_token'], 1, 'one token for three calls')
  t.equal(calls['/cgi-bin/token'] ?? 0, 0)
  await sim.control.fault({ path: PHONE, errcode: -1, count: 20 })
  const { code } = await sim.control.phoneCode({ user: 'alice' })
  const busy = await callInternal(app, { method: 'POST', url: '/api/me/phone', identity, payload: { code } })
  t.equal(busy.statusCode, 503)
  t.equal(busy.json().code, 'WECHAT_BUSY')
})

t.test('POST /api/me/phone: a stale access_token is refreshed once; TOKEN_SOURCE=classic uses /cgi-bin/token', async (t) => {
  const { app, sim } = await setup(t, { TOKEN_SOURCE: 'classic' })
  const { identity } = await loginBearer(app, sim, 'alice')
  const first = await sim.control.phoneCode({ user: 'alice' })
  t.equal((await callInternal(app, { method: 'POST', url: '/api/me/phone', identity, payload: { code: first.code } })).statusCode, 200)
  await sim.control.fault({ path: PHONE, errcode: 40001 })
  const { code } = await sim.control.phoneCode({ user: 'alice' })
  const res = await callInternal(app, { method: 'POST', url: '/api/me/phone', identity, payload: { code } })
  t.equal(res.statusCode, 200, 'refreshed and retried')
  const calls = (await sim.control.stats()).calls
  t.equal(calls['/cgi-bin/token'], 2)
  t.equal(calls['/cgi-bin/stable_token'] ?? 0, 0)
})
