import t from 'tap'
import { APP, RID, classicToken, code2sessionUrl, getJson, loginCode, makeSim, postJson } from './fixtures/sim.js'

const TOKEN_URL = `/cgi-bin/token?grant_type=client_credential&appid=${APP.appId}&secret=${APP.appSecret}`

t.test('errcode -1 once, then the real answer', async (t) => {
  const sim = await makeSim(t)
  t.same(await postJson(sim, '/sim/faults', { path: '/sns/jscode2session', errcode: -1 }), { path: '/sns/jscode2session', pending: 1 })
  const { code } = await loginCode(sim)
  const failed = await getJson(sim, code2sessionUrl(code))
  t.equal(failed.errcode, -1)
  t.match(failed.errmsg, /^system error/)
  t.match(failed.errmsg, RID)
  t.ok((await getJson(sim, code2sessionUrl(code))).openid, 'the faulted call did not consume the code')
})

t.test('count is consumed call by call, in queue order', async (t) => {
  const sim = await makeSim(t)
  await postJson(sim, '/sim/faults', { path: '/cgi-bin/token', errcode: 45009, count: 2 })
  t.equal((await postJson(sim, '/sim/faults', { path: '/cgi-bin/token', errcode: 40164, errmsg: 'invalid ip 1.2.3.4' })).pending, 3)
  t.equal((await getJson(sim, TOKEN_URL)).errcode, 45009)
  t.equal((await getJson(sim, TOKEN_URL)).errcode, 45009)
  const custom = await getJson(sim, TOKEN_URL)
  t.equal(custom.errcode, 40164)
  t.match(custom.errmsg, /^invalid ip 1\.2\.3\.4 rid: /, 'custom errmsg, rid still appended')
  t.ok((await getJson(sim, TOKEN_URL)).access_token)
  t.equal(sim.simState.faults.pending(), 0)
})

t.test('faults are per path', async (t) => {
  const sim = await makeSim(t)
  await postJson(sim, '/sim/faults', { path: '/cgi-bin/stable_token', errcode: -1 })
  t.ok((await getJson(sim, TOKEN_URL)).access_token, 'other path untouched')
  t.equal(sim.simState.faults.pending('/cgi-bin/stable_token'), 1)
})

t.test('delayMs really delays, then answers normally (or with the errcode)', async (t) => {
  const sim = await makeSim(t)
  await postJson(sim, '/sim/faults', { path: '/cgi-bin/token', delayMs: 150 })
  let started = performance.now()
  t.ok((await getJson(sim, TOKEN_URL)).access_token, 'real result after the delay')
  t.ok(performance.now() - started >= 140, 'delayed')

  await postJson(sim, '/sim/faults', { path: '/cgi-bin/token', delayMs: 100, errcode: -1 })
  started = performance.now()
  t.equal((await getJson(sim, TOKEN_URL)).errcode, -1)
  t.ok(performance.now() - started >= 90, 'delay first, then the error')

  started = performance.now()
  await getJson(sim, TOKEN_URL)
  t.ok(performance.now() - started < 90, 'consumed: the next call is fast')
})

t.test('in-process faults through simState', async (t) => {
  const sim = await makeSim(t)
  t.equal(sim.simState.faults.add({ path: '/wxa/business/getuserphonenumber', errcode: -1, count: 2 }), 2)
  const token = await classicToken(sim)
  t.equal((await postJson(sim, `/wxa/business/getuserphonenumber?access_token=${token}`, { code: 'x' })).errcode, -1)
  sim.simState.faults.clear('/wxa/business/getuserphonenumber')
  t.equal((await postJson(sim, `/wxa/business/getuserphonenumber?access_token=${token}`, { code: 'x' })).errcode, 40029)

  t.throws(() => sim.simState.faults.add({ path: '/cgi-bin/nothing', errcode: -1 }), { code: 'SIM_UNKNOWN_API_PATH' })
  t.throws(() => sim.simState.faults.add({ path: '/cgi-bin/token' }), { code: 'SIM_FAULT_INVALID' }, 'neither errcode nor delay')
  t.throws(() => sim.simState.faults.add({ path: '/cgi-bin/token', errcode: 0 }), { code: 'SIM_FAULT_INVALID' })
  t.throws(() => sim.simState.faults.add({ path: '/cgi-bin/token', errcode: -1, count: 0 }), { code: 'SIM_FAULT_INVALID' })
})

t.test('DELETE /sim/faults clears one path or all', async (t) => {
  const sim = await makeSim(t)
  await postJson(sim, '/sim/faults', { path: '/cgi-bin/token', errcode: -1 })
  await postJson(sim, '/sim/faults', { path: '/sns/jscode2session', errcode: -1 })
  const one = await sim.inject({ method: 'DELETE', url: '/sim/faults?path=/cgi-bin/token' })
  t.equal(one.statusCode, 200)
  t.ok((await getJson(sim, TOKEN_URL)).access_token)
  t.equal(sim.simState.faults.pending(), 1)
  t.equal((await sim.inject({ method: 'DELETE', url: '/sim/faults' })).statusCode, 200)
  t.equal(sim.simState.faults.pending(), 0)
})

t.test('stats count every API call, faulted ones included; reset clears state', async (t) => {
  const sim = await makeSim(t)
  t.same(await getJson(sim, '/sim/stats'), { calls: {} })
  await postJson(sim, '/sim/faults', { path: '/cgi-bin/token', errcode: -1 })
  await getJson(sim, TOKEN_URL)
  const token = await classicToken(sim)
  const { code } = await loginCode(sim)
  await getJson(sim, code2sessionUrl(code))
  await getJson(sim, code2sessionUrl(code))
  await getJson(sim, `/wxa/checksession?access_token=${token}`)
  await getJson(sim, '/healthz')
  t.same(await getJson(sim, '/sim/stats'), { calls: { '/cgi-bin/token': 2, '/sns/jscode2session': 2, '/wxa/checksession': 1 } }, 'control and health calls are not counted')

  await postJson(sim, '/sim/faults', { path: '/cgi-bin/token', errcode: -1 })
  await postJson(sim, '/sim/clock', { advanceMs: 1000 })
  t.same(await postJson(sim, '/sim/reset', {}), { ok: true })
  t.same(await getJson(sim, '/sim/stats'), { calls: {} })
  t.equal(sim.simState.faults.pending(), 0, 'faults cleared')
  t.equal((await getJson(sim, '/sim/clock')).now, sim.simState.clock.now(), 'clock readable')
  t.equal(sim.simState.now(), (await import('./fixtures/sim.js')).T0, 'clock offset cleared')
  t.equal((await getJson(sim, code2sessionUrl(code))).errcode, 40029, 'codes forgotten')
})
