import t from 'tap'
import { GENERIC_5XX_MESSAGES } from '@weapp/common'
import { RealTimeClock } from '@weapp/test-kit'
import { ADMIN, buildCs, callInternal, testConfig } from './fixtures/harness.js'
import { SEND_PATH, sendingEnv, startSim, userMessaged } from './fixtures/sim.js'

// WeChat's refusals that become 502/503/504 carry WeChat's errmsg (and its rid) in the error's message:
// the admin client gets the stable code and a generic message, the log gets the detail and the request id.

t.test('502/503/504 from WeChat: stable code and a generic message; errmsg only in the log, with the request id', async (t) => {
  const sim = await startSim(t)
  const clock = new RealTimeClock()
  const logLines: string[] = []
  const app = await buildCs(t, { config: testConfig({ ...sendingEnv(sim), WECHAT_TIMEOUT_MS: '300' }), clock, logLines, wechat: { retryBaseDelayMs: 1 } })
  const openid = await userMessaged(app, sim, clock, 'hana')

  const cases = [
    { status: 502, code: 'WECHAT_API_UNAUTHORIZED', fault: { errcode: 48001, errmsg: 'api unauthorized rid: 6613a0f1-secret-detail-502' }, detail: 'secret-detail-502' },
    { status: 503, code: 'WECHAT_BUSY', fault: { errcode: -1, errmsg: 'system error rid: 77aa0c2e-secret-detail-503', count: 10 }, detail: 'secret-detail-503' },
    { status: 504, code: 'WECHAT_TIMEOUT', fault: { delayMs: 1500 }, detail: `${SEND_PATH} after 300 ms` }
  ]
  for (const c of cases) {
    await sim.control.clearFaults()
    await sim.control.fault({ path: SEND_PATH, ...c.fault })
    const requestId = `req-cs-${c.status}`
    const res = await callInternal(app, {
      method: 'POST',
      url: '/api/cs/messages',
      identity: ADMIN,
      headers: { 'x-request-id': requestId },
      payload: { touser: openid, msgtype: 'text', text: { content: `hello ${c.status}` } }
    })
    t.equal(res.statusCode, c.status, `${c.code}: ${res.body}`)
    const body = res.json() as Record<string, unknown>
    t.same(body, { statusCode: c.status, code: c.code, error: body.error, message: GENERIC_5XX_MESSAGES[c.status] }, `${c.code}: the code and a generic message`)
    t.notMatch(res.body, c.detail, `${c.code}: no WeChat detail in the answer`)
    t.notMatch(res.body, /errmsg|rid:/)
    t.match(res.headers['x-cs-message-id'], /^out:/, 'the attempt id is still given')

    const lines = logLines.map((l) => JSON.parse(l) as Record<string, any>).filter((l) => l.reqId === requestId && l.msg === 'request failed')
    t.equal(lines.length, 1, `${c.code}: one error line for the request`)
    t.match(lines[0]?.err?.message, c.detail, `${c.code}: the detail is in the log`)
    t.equal(lines[0]?.code, c.code)
  }
  await sim.control.clearFaults()
  t.equal((await callInternal(app, { method: 'POST', url: '/api/cs/messages', identity: ADMIN, payload: { touser: openid, msgtype: 'text', text: { content: 'after' } } })).statusCode, 201, 'the next send works')
})
