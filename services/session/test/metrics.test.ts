import t, { type Test } from 'tap'
import { callPublic } from '@weapp/test-kit'
import { callInternal, loginBearer, resolve, setup } from './fixtures/harness.js'

// GET /metrics: session's own counters (logins by generation and outcome, resolves by outcome) in the
// Prometheus text format the other services serve, behind the internal credential.

async function scrape (t: Test, app: Parameters<typeof callInternal>[0]): Promise<string> {
  const res = await callInternal(app, { url: '/metrics' })
  t.equal(res.statusCode, 200)
  t.match(res.headers['content-type'], /^text\/plain/)
  return res.body
}

t.test('logins are counted by generation and outcome, resolves by outcome', async (t) => {
  const { app, sim } = await setup(t)
  const { token } = await loginBearer(app, sim, 'alice')
  const refused = await callInternal(app, { method: 'POST', url: '/api/login', payload: { code: 'not-a-code' } })
  t.equal(refused.statusCode, 401)

  const wafer1 = await sim.control.loginCode({ user: 'bob' })
  const gen1 = await callInternal(app, { url: '/login', headers: { 'x-wx-code': wafer1.code, 'x-wx-encrypted-data': wafer1.userInfo.encryptedData, 'x-wx-iv': wafer1.userInfo.iv } })
  t.equal(gen1.statusCode, 200)
  const gen2Refused = await callInternal(app, { url: '/weapp/login', headers: {} })
  t.same(gen2Refused.json().code, -1)

  t.equal((await resolve(app, { bearer: token })).statusCode, 200)
  t.equal((await resolve(app, { bearer: 'x'.repeat(43) })).statusCode, 401)

  const text = await scrape(t, app)
  // loginBearer resolves its token once too.
  t.match(text, /session_logins_total\{generation="bearer",outcome="ok"\} 1\n/)
  t.match(text, /session_logins_total\{generation="bearer",outcome="refused"\} 1\n/)
  t.match(text, /session_logins_total\{generation="wafer1",outcome="ok"\} 1\n/)
  t.match(text, /session_logins_total\{generation="wafer2",outcome="refused"\} 1\n/)
  t.match(text, /session_resolves_total\{outcome="ok"\} 2\n/)
  t.match(text, /session_resolves_total\{outcome="refused"\} 1\n/)
})

t.test('/metrics needs the internal credential', async (t) => {
  const { app } = await setup(t)
  const res = await callPublic(app, { url: '/metrics' })
  t.equal(res.statusCode, 401)
  t.equal(res.json().code, 'COMMON_INTERNAL_AUTH_MISSING')
})
