// Bogus credentials are cheap: refused by shape before any lookup, refusals remembered, failed lookups
// rate-limited per client address. Behind the gateway runs the real session service (with the WeChat
// simulator for logins); its `/internal/resolve` calls are counted by a hook on that service itself.
import { randomBytes } from 'node:crypto'
import Fastify, { type FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import t from 'tap'
import { request } from 'undici'
import { AUTH_FAILURE_KEY_PREFIX, createRedis } from '@weapp/common'
import { redisTargets } from '@weapp/test-kit'
import { DEFAULT_SIM_APP, SimControl, buildSimulator } from '@weapp/wechat-sim'
import { loadSessionConfig, sessionApp, sessionServerOptions } from '../../services/session/src/index.js'
import { buildGateway } from '../src/app.js'
import { DEFAULT_AUTH_FAILURE_LIMIT_MAX, loadGatewayConfig } from '../src/config.js'
import { INTERNAL_TOKEN } from './fixtures/gateway.js'

interface Stack {
  /** Gateway base URLs (one per gateway asked for). */
  gateways: string[]
  sim: SimControl
  /** POST /internal/resolve calls the session service received. */
  lookups: () => number
}

async function listen (app: FastifyInstance): Promise<string> {
  await app.listen({ host: '127.0.0.1', port: 0 })
  return `http://127.0.0.1:${(app.server.address() as { port: number }).port}`
}

/** The simulator, the real session service, and `count` gateways in front of it (loopback is a trusted proxy). */
async function startStack (t: { teardown (fn: () => unknown): void }, env: Record<string, string> = {}, count = 1): Promise<Stack> {
  const simulator = await buildSimulator()
  t.teardown(() => simulator.close())
  const simUrl = await listen(simulator)

  const config = loadSessionConfig({ INTERNAL_TOKEN, APP_ID: DEFAULT_SIM_APP.appId, APP_SECRET: DEFAULT_SIM_APP.appSecret, WECHAT_API_BASE: simUrl, LOG_LEVEL: 'silent' })
  const session = Fastify(sessionServerOptions(config))
  let lookups = 0
  session.addHook('onRequest', (req, _reply, done) => {
    if (req.url === '/internal/resolve') lookups++
    done()
  })
  await session.register(fp(sessionApp, { name: 'session-app' }), { config })
  t.teardown(() => session.close())
  const sessionUrl = await listen(session)

  const gateways: string[] = []
  for (let i = 0; i < count; i++) {
    const app = await buildGateway(loadGatewayConfig({
      INTERNAL_TOKEN,
      LOG_LEVEL: 'silent',
      SESSION_URL: sessionUrl,
      CS_MESSAGING_URL: 'http://127.0.0.1:9',
      REALTIME_WS_URL: 'http://127.0.0.1:9',
      // The tests play many clients from loopback: X-Forwarded-For names each one.
      TRUST_PROXY: '127.0.0.1',
      METRICS_PUBLIC: 'true',
      ...env
    }))
    t.teardown(() => app.close())
    gateways.push(await listen(app))
  }
  return { gateways, sim: new SimControl(simUrl), lookups: () => lookups }
}

interface Answer { status: number, headers: Record<string, string | string[] | undefined>, body: any }

async function get (base: string, path: string, client: string, headers: Record<string, string>): Promise<Answer> {
  const res = await request(base + path, { headers: { 'x-forwarded-for': client, ...headers } })
  const text = await res.body.text()
  return { status: res.statusCode, headers: res.headers, body: text === '' ? null : JSON.parse(text) }
}

/** Runs `fn` for 0..n-1, `width` at a time. */
async function concurrently<T> (n: number, width: number, fn: (i: number) => Promise<T>): Promise<T[]> {
  const out: T[] = new Array(n)
  let next = 0
  await Promise.all(Array.from({ length: width }, async () => {
    while (next < n) {
      const i = next++
      out[i] = await fn(i)
    }
  }))
  return out
}

const wellFormedBearer = (): string => randomBytes(32).toString('base64url')
const randomAddress = (): string => `10.${randomBytes(1)[0]!}.${randomBytes(1)[0]!}.${1 + (randomBytes(1)[0]! % 250)}`

async function login (stack: Stack, base: string, client: string, user: string): Promise<string> {
  const { code } = await stack.sim.loginCode({ user })
  const res = await request(`${base}/api/login`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-forwarded-for': client }, body: JSON.stringify({ code }) })
  const body = await res.body.json() as { token: string }
  if (res.statusCode !== 200) throw new Error(`login answered ${res.statusCode}`)
  return body.token
}

t.test('1,000 random well-shaped bearer tokens from one address: at most 1 % reach the session service', async (t) => {
  const stack = await startStack(t)
  const [gw] = stack.gateways as [string]
  const attacker = '203.0.113.7'
  const answers = await concurrently(1000, 20, async () => await get(gw, '/api/me', attacker, { authorization: `Bearer ${wellFormedBearer()}` }))

  t.ok(stack.lookups() <= 10, `${stack.lookups()} lookups for 1,000 requests`)
  t.equal(stack.lookups(), DEFAULT_AUTH_FAILURE_LIMIT_MAX, 'the failed-lookup budget (AUTH_FAILURE_LIMIT_MAX), then none')
  const statuses = new Map<number, number>()
  for (const a of answers) statuses.set(a.status, (statuses.get(a.status) ?? 0) + 1)
  t.same([...statuses.keys()].sort(), [401, 429], 'refused (401) while the budget lasts, then 429')
  t.equal(statuses.get(401), DEFAULT_AUTH_FAILURE_LIMIT_MAX)
  const limited = answers.find((a) => a.status === 429)!
  t.match(limited.body, { statusCode: 429, code: 'GATEWAY_AUTH_RATE_LIMITED', error: 'Too Many Requests', message: /^Too many failed authentications from this address, retry in \d+ s$/ })
  t.match(limited.headers['retry-after'], /^\d+$/)
  t.ok(Number(limited.headers['retry-after']) > 0 && Number(limited.headers['retry-after']) <= 60)

  // Another address is not affected: a real user logs in and is served.
  const user = '198.51.100.23'
  const token = await login(stack, gw, user, 'alice')
  const me = await get(gw, '/api/me', user, { authorization: `Bearer ${token}` })
  t.equal(me.status, 200)
  t.match(me.body, { openid: /./ })

  const metrics = (await request(`${gw}/metrics`).then(async (r) => await r.body.text()))
  t.match(metrics, new RegExp(`gateway_auth_failures_total\\{reason="refused"\\} ${DEFAULT_AUTH_FAILURE_LIMIT_MAX}\\b`))
  t.match(metrics, new RegExp(`gateway_auth_failures_total\\{reason="rate_limited"\\} ${1000 - DEFAULT_AUTH_FAILURE_LIMIT_MAX}\\b`))
})

t.test('malformed credentials (not the shape the session service issues) cause no lookup at all', async (t) => {
  const stack = await startStack(t)
  const [gw] = stack.gateways as [string]
  const shapes: Array<() => Record<string, string>> = [
    () => ({ authorization: `Bearer ${randomBytes(24).toString('base64url')}` }),
    () => ({ authorization: `Bearer ${randomBytes(32).toString('base64')}` }),
    () => ({ authorization: `Bearer ${randomBytes(33).toString('hex')}` }),
    () => ({ 'x-wx-id': randomBytes(32).toString('hex'), 'x-wx-skey': randomBytes(20).toString('base64url') }),
    () => ({ 'x-wx-skey': randomBytes(21).toString('hex') })
  ]
  const client = randomAddress()
  const answers = await concurrently(1000, 20, async (i) => await get(gw, '/api/me', client, shapes[i % shapes.length]!()))
  t.equal(stack.lookups(), 0, 'the session service was never asked')
  t.ok(answers.every((a) => a.status === 401 && a.body.code === 'GATEWAY_SESSION_INVALID' && a.body.message === 'Session invalid: malformed credential'))
  const metrics = await request(`${gw}/metrics`).then(async (r) => await r.body.text())
  t.match(metrics, /gateway_auth_failures_total\{reason="malformed"\} 1000\b/)

  // Malformed credentials cost nothing, so they do not use up the address's budget: a real user there is served.
  const token = await login(stack, gw, client, 'bob')
  t.equal((await get(gw, '/api/me', client, { authorization: `Bearer ${token}` })).status, 200)
})

t.test('a refused credential is remembered: repeating it costs one lookup; a new login is served at once', async (t) => {
  const stack = await startStack(t)
  const [gw] = stack.gateways as [string]
  const bogus = wellFormedBearer()
  // From many addresses, so the per-address budget is not what stops the lookups.
  const answers = await concurrently(100, 10, async () => await get(gw, '/api/me', randomAddress(), { authorization: `Bearer ${bogus}` }))
  t.ok(answers.every((a) => a.status === 401 && a.body.message === 'Session invalid: unknown session'))
  t.equal(stack.lookups(), 1, '100 requests, 1 lookup')

  // A remembered refusal never stands in the way of a login: every login mints a new random token.
  const client = randomAddress()
  const token = await login(stack, gw, client, 'carol')
  t.equal((await get(gw, '/api/me', client, { authorization: `Bearer ${token}` })).status, 200)
  await request(`${gw}/api/logout`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'x-forwarded-for': client } }).then(async (r) => { await r.body.dump() })
  const after = await get(gw, '/api/me', client, { authorization: `Bearer ${token}` })
  t.equal(after.status, 401, 'a logged-out token is refused')
  const again = await login(stack, gw, client, 'carol')
  t.not(again, token)
  t.equal((await get(gw, '/api/me', client, { authorization: `Bearer ${again}` })).status, 200, 'the next login works at once')
})

// On one server, behind Sentinel and on a three-master Cluster: the gateways get the topology's REDIS_* variables.
for (const target of redisTargets(t)) {
  t.test(`with Redis (${target.name}), the failed-lookup budget is shared by every gateway instance`, { skip: target.skip }, async (t) => {
    const stack = await startStack(t, { ...await target.env(), AUTH_FAILURE_LIMIT_MAX: '6' }, 2)
    const [a, b] = stack.gateways as [string, string]
    const client = randomAddress()
    for (let i = 0; i < 6; i++) t.equal((await get(a, '/api/me', client, { authorization: `Bearer ${wellFormedBearer()}` })).status, 401)
    t.equal((await get(a, '/api/me', client, { authorization: `Bearer ${wellFormedBearer()}` })).status, 429, 'gateway A: budget used up')
    const redis = createRedis(await target.topology())
    t.teardown(() => { redis.disconnect() })
    t.equal(await redis.get(AUTH_FAILURE_KEY_PREFIX + client), '6', 'counted in Redis')

    // Gateway B learns the shared count with its first failure from that address, then refuses.
    const fromB = []
    for (let i = 0; i < 20; i++) fromB.push((await get(b, '/api/me', client, { authorization: `Bearer ${wellFormedBearer()}` })).status)
    t.same(fromB, [401, ...Array(19).fill(429)])
    t.equal(stack.lookups(), 7, '6 + 1 lookups for 27 requests through two gateways')
  })
}
