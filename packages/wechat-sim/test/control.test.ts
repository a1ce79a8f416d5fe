import t from 'tap'
import { buildSimulator } from '../src/index.js'
import { APP, T0, getJson, makeSim, postJson } from './fixtures/sim.js'

t.test('bad control input is a 400 naming the problem', async (t) => {
  const sim = await makeSim(t)
  const cases: Array<[string, string, unknown, RegExp]> = [
    ['POST', '/sim/login-code', {}, /user/],
    ['POST', '/sim/login-code', { user: '' }, /user/],
    ['POST', '/sim/login-code', { user: 'a', ttlMs: 0 }, /ttlMs/],
    ['POST', '/sim/login-code', { user: 'a', ttlMs: 'soon' }, /ttlMs/],
    ['POST', '/sim/login-code', { user: 'a', appId: 'wx0000000000000000' }, /Unknown appId/],
    ['POST', '/sim/phone-code', { user: 'a', phoneNumber: '12-34' }, /phoneNumber/],
    ['POST', '/sim/phone-code', { user: 'a', countryCode: '+86' }, /countryCode/],
    ['POST', '/sim/phone-code', { user: 'a', appId: 'wx0000000000000000' }, /Unknown appId/],
    ['POST', '/sim/faults', { errcode: -1 }, /path/],
    ['POST', '/sim/faults', { path: 'cgi-bin/token', errcode: -1 }, /path/],
    ['POST', '/sim/faults', { path: '/cgi-bin/nothing', errcode: -1 }, /No simulated API/],
    ['POST', '/sim/faults', { path: '/cgi-bin/token', errcode: 0 }, /errcode/],
    ['POST', '/sim/faults', { path: '/cgi-bin/token', errcode: -1, count: 0 }, /count/],
    ['POST', '/sim/faults', { path: '/cgi-bin/token', delayMs: -5 }, /delayMs/],
    ['POST', '/sim/faults', { path: '/cgi-bin/token' }, /errcode, a delayMs/],
    ['POST', '/sim/clock', {}, /advanceMs/],
    ['POST', '/sim/clock', { advanceMs: -1 }, /advanceMs/]
  ]
  for (const [method, url, payload, message] of cases) {
    const res = await sim.inject({ method: method as 'POST', url, payload: payload as Record<string, unknown> })
    t.equal(res.statusCode, 400, `${url} ${JSON.stringify(payload)}`)
    t.match(res.json(), { statusCode: 400, code: String, message }, `${url} says why`)
  }
  const notJson = await sim.inject({ method: 'POST', url: '/sim/login-code', headers: { 'content-type': 'application/json' }, payload: '{user' })
  t.equal(notJson.statusCode, 400, 'control routes want real JSON')
  t.equal(sim.simState.faults.pending(), 0, 'nothing was queued')
})

t.test('the clock only moves forward, and moves expiry with it', async (t) => {
  const sim = await makeSim(t)
  t.same(await getJson(sim, '/sim/clock'), { now: T0 })
  t.same(await postJson(sim, '/sim/clock', { advanceMs: 1500 }), { now: T0 + 1500 })
  t.same(await postJson(sim, '/sim/clock', { advanceMs: 0 }), { now: T0 + 1500 })
  t.equal(sim.simState.clock.advance(500), T0 + 2000, 'in-process too')
  t.throws(() => sim.simState.clock.advance(-1))
})

t.test('in-process codes through simState', async (t) => {
  const sim = await makeSim(t)
  const login = sim.simState.loginCode({ user: 'alice' })
  const res = await getJson(sim, `/sns/jscode2session?appid=${APP.appId}&secret=${APP.appSecret}&js_code=${login.code}&grant_type=authorization_code`)
  t.equal(res.openid, login.openid)
  t.equal(sim.simState.phoneCode({ user: 'alice', phoneNumber: '13912345678' }).phoneNumber, '13912345678')
})

t.test('options are checked when the simulator is built', async (t) => {
  await t.rejects(buildSimulator({ apps: [] }), { code: 'SIM_OPTIONS_INVALID' })
  await t.rejects(buildSimulator({ apps: [{ appId: '', appSecret: 'x' }] }), { code: 'SIM_OPTIONS_INVALID' })
  await t.rejects(buildSimulator({ tokenTtlSec: 0 }), { code: 'SIM_OPTIONS_INVALID' })
  await t.rejects(buildSimulator({ codeTtlMs: 1.5 }), { code: 'SIM_OPTIONS_INVALID' })
})

t.test('healthz and unknown routes', async (t) => {
  const sim = await makeSim(t)
  t.same(await getJson(sim, '/healthz'), { ok: true })
  const missing = await sim.inject('/cgi-bin/nothing')
  t.equal(missing.statusCode, 404)
})
