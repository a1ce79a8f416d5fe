// A Redis that stops answering must not hold ticket requests and upgrades for ever: realtime-ws's Redis
// client has a command timeout (REDIS_COMMAND_TIMEOUT_MS) and a ticket then fails fast with 503.
import t from 'tap'
import { ALICE, gatewayHeaders, issueTicket, refusal, start, testConfig } from './fixtures/harness.js'
import { freezableProxy } from './fixtures/freezable-proxy.js'

const redisUrl = process.env.REDIS_URL
const needsRedis = { skip: redisUrl === undefined ? 'REDIS_URL is not set' : false }

/** The promise's outcome, or 'still waiting' after ms. */
async function within<T> (ms: number, promise: Promise<T>): Promise<T | 'still waiting'> {
  let timer: NodeJS.Timeout | undefined
  const late = new Promise<'still waiting'>((resolve) => { timer = setTimeout(() => { resolve('still waiting') }, ms) })
  try { return await Promise.race([promise, late]) } finally { clearTimeout(timer) }
}

t.test('a Redis that stops answering: tickets fail with 503 within REDIS_COMMAND_TIMEOUT_MS', needsRedis, async (t) => {
  const proxy = await freezableProxy(redisUrl!)
  t.teardown(() => proxy.close())
  const r = await start(t, { config: testConfig({ REDIS_URL: proxy.url, REDIS_COMMAND_TIMEOUT_MS: '300' }) })
  const before = await issueTicket(r, ALICE)
  t.ok(before.ticket, 'tickets work while Redis answers')

  proxy.freeze()
  const started = Date.now()
  const issued = await within(1500, r.app.inject({ method: 'POST', url: '/api/ws/tickets', headers: gatewayHeaders(ALICE) }))
  t.not(issued, 'still waiting', 'the request was answered, not held')
  if (issued === 'still waiting') return
  t.equal(issued.statusCode, 503)
  t.same(issued.json(), { statusCode: 503, code: 'WS_TICKET_STORE_UNAVAILABLE', error: 'Service Unavailable', message: 'Connection tickets are unavailable, try again' })
  t.ok(Date.now() - started < 1500, `answered in ${Date.now() - started} ms`)

  const upgrade = await within(1500, refusal(`${r.ws}${before.url}`))
  t.not(upgrade, 'still waiting', 'an upgrade with a ticket is answered too')
  if (upgrade === 'still waiting') return
  t.equal(upgrade.status, 503)
  t.equal(upgrade.body.code, 'WS_TICKET_STORE_UNAVAILABLE')
})

t.test('REDIS_COMMAND_TIMEOUT_MS is bounded', async (t) => {
  for (const value of ['0', '49', '60001', 'soon']) {
    t.throws(() => testConfig({ REDIS_COMMAND_TIMEOUT_MS: value }), { code: 'COMMON_CONFIG_INVALID', message: /REDIS_COMMAND_TIMEOUT_MS/ }, value)
  }
  t.equal(testConfig().REDIS_COMMAND_TIMEOUT_MS, 2000)
})
