import t from 'tap'
import { APP, OTHER_APP, RID, advance, classicToken, makeSim, postJson, stableToken } from './fixtures/sim.js'

const URL_ = '/wxa/business/getuserphonenumber'

t.test('a phone code gives phone_info with a watermark, once', async (t) => {
  const sim = await makeSim(t)
  const token = await classicToken(sim)
  const issued = await postJson(sim, '/sim/phone-code', { user: 'alice', phoneNumber: '13800138000' })
  t.same(issued.phoneNumber, '13800138000')
  const res = await postJson(sim, `${URL_}?access_token=${token}`, { code: issued.code })
  t.same(res, {
    errcode: 0,
    errmsg: 'ok',
    phone_info: {
      phoneNumber: '13800138000',
      purePhoneNumber: '13800138000',
      countryCode: '86',
      watermark: { timestamp: Math.floor(sim.simState.now() / 1000), appid: APP.appId }
    }
  })
  const again = await postJson(sim, `${URL_}?access_token=${token}`, { code: issued.code })
  t.equal(again.errcode, 40029, 'single use')
  t.match(again.errmsg, RID)
})

t.test('default and foreign numbers', async (t) => {
  const sim = await makeSim(t)
  const token = (await stableToken(sim)).access_token
  const a = await postJson(sim, '/sim/phone-code', { user: 'alice' })
  const b = await postJson(sim, '/sim/phone-code', { user: 'alice' })
  t.match(a.phoneNumber, /^13\d{9}$/)
  t.equal(b.phoneNumber, a.phoneNumber, 'stable per user')
  const foreign = await postJson(sim, '/sim/phone-code', { user: 'eve', phoneNumber: '2025550123', countryCode: '1' })
  t.equal(foreign.phoneNumber, '+12025550123')
  const res = await postJson(sim, `${URL_}?access_token=${token}`, { code: foreign.code })
  t.match(res.phone_info, { phoneNumber: '+12025550123', purePhoneNumber: '2025550123', countryCode: '1' })
})

t.test('openid must match when given; a mismatch leaves the code usable', async (t) => {
  const sim = await makeSim(t)
  const token = await classicToken(sim)
  const alice = await postJson(sim, '/sim/login-code', { user: 'alice' })
  const bob = await postJson(sim, '/sim/login-code', { user: 'bob' })
  const { code } = await postJson(sim, '/sim/phone-code', { user: 'alice' })
  t.equal((await postJson(sim, `${URL_}?access_token=${token}`, { code, openid: bob.openid })).errcode, 40029)
  t.equal((await postJson(sim, `${URL_}?access_token=${token}`, { code, openid: alice.openid })).errcode, 0)
})

t.test('expired and foreign codes', async (t) => {
  const sim = await makeSim(t, { apps: [APP, OTHER_APP], phoneCodeTtlMs: 60_000 })
  const token = await classicToken(sim)
  const expiring = await postJson(sim, '/sim/phone-code', { user: 'alice' })
  const longer = await postJson(sim, '/sim/phone-code', { user: 'alice', ttlMs: 120_000 })
  const foreign = await postJson(sim, '/sim/phone-code', { user: 'alice', appId: OTHER_APP.appId })
  t.equal((await postJson(sim, `${URL_}?access_token=${token}`, { code: foreign.code })).errcode, 40029, 'code of another app')
  await advance(sim, 60_000)
  t.equal((await postJson(sim, `${URL_}?access_token=${token}`, { code: expiring.code })).errcode, 40029, 'expired')
  t.equal((await postJson(sim, `${URL_}?access_token=${token}`, { code: longer.code })).errcode, 0, 'per-code ttl')
  t.equal((await postJson(sim, `${URL_}?access_token=${token}`, { code: 'nope' })).errcode, 40029, 'unknown')
})

t.test('body and token errors', async (t) => {
  const sim = await makeSim(t)
  const token = await classicToken(sim)
  const { code } = await postJson(sim, '/sim/phone-code', { user: 'alice' })
  const form = await sim.inject({ method: 'POST', url: `${URL_}?access_token=${token}`, headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: `code=${code}` })
  t.equal(form.json().errcode, 47001, 'form body: data format error')
  t.equal((await postJson(sim, `${URL_}?access_token=${token}`, {})).errcode, 47001, 'no code')
  t.equal((await postJson(sim, URL_, { code })).errcode, 41001)
  t.equal((await postJson(sim, `${URL_}?access_token=nope`, { code })).errcode, 40014)
  t.equal((await postJson(sim, `${URL_}?access_token=${token}`, { code })).errcode, 0, 'the code survived')
})

t.test('45011 past the per-app minute quota', async (t) => {
  const sim = await makeSim(t, { apps: [APP, OTHER_APP], phonePerAppPerMinute: 3 })
  const token = await classicToken(sim)
  for (let i = 0; i < 3; i++) await postJson(sim, `${URL_}?access_token=${token}`, { code: 'nope' })
  const { code } = await postJson(sim, '/sim/phone-code', { user: 'alice' })
  const limited = await postJson(sim, `${URL_}?access_token=${token}`, { code })
  t.equal(limited.errcode, 45011)
  t.match(limited.errmsg, /^api minute-quota reach limit/)
  const other = await classicToken(sim, OTHER_APP)
  t.equal((await postJson(sim, `${URL_}?access_token=${other}`, { code: 'nope' })).errcode, 40029, 'other app has its own quota')
  await advance(sim, 60_000)
  t.equal((await postJson(sim, `${URL_}?access_token=${token}`, { code })).errcode, 0, 'next minute')

  const dflt = await makeSim(t)
  const tk = await classicToken(dflt)
  for (let i = 0; i < 100; i++) await postJson(dflt, `${URL_}?access_token=${tk}`, { code: 'nope' })
  t.equal((await postJson(dflt, `${URL_}?access_token=${tk}`, { code: 'nope' })).errcode, 45011, 'default quota is 100/min')
})
