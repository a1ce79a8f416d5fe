import t from 'tap'
import { createRedis } from '@weapp/common'
import { flushRedisScripts, redisTargets } from '@weapp/test-kit'
import { LOGIN_RATE_LIMIT_KEY_PREFIX } from '../src/plugins/login-rate-limit.js'
import { bearer, startHarness, type Harness } from './fixtures/gateway.js'

const MAX = 3

async function login (h: Harness, headers: Record<string, string> = {}, path = '/api/login'): Promise<number> {
  const method = path === '/api/login' ? 'POST' : 'GET'
  const res = await h.call(path, { method, headers: { 'content-type': 'application/json', ...headers }, body: method === 'POST' ? '{}' : undefined })
  return res.status
}

t.test('login routes: 429 GATEWAY_RATE_LIMITED after LOGIN_RATE_LIMIT_MAX per window, one budget for all login protocols', async (t) => {
  const h = await startHarness({ env: { LOGIN_RATE_LIMIT_MAX: String(MAX) } })
  t.teardown(h.close)
  t.equal(await login(h, {}, '/api/login'), 200)
  t.equal(await login(h, {}, '/login'), 200)
  t.equal(await login(h, {}, '/weapp/login'), 200)
  const before = h.upstream.requests.length
  const res = await h.call('/weapp/login')
  t.equal(res.status, 429)
  t.same(res.json(), { statusCode: 429, code: 'GATEWAY_RATE_LIMITED', error: 'Too Many Requests', message: 'Too many requests, retry in 1 minute' })
  t.equal(res.headers['retry-after'], '60')
  t.equal(res.headers['x-ratelimit-limit'], String(MAX))
  t.match(res.headers['x-request-id'], /./)
  t.equal(await login(h, {}, '/api/login'), 429)
  t.equal(await login(h, {}, '/login'), 429)
  t.equal(h.upstream.requests.length, before, 'limited requests never reach the upstream')

  for (let i = 0; i < MAX + 2; i++) {
    t.equal((await h.call('/api/me', { headers: bearer() })).status, 200, 'other routes are not limited')
  }
  t.equal((await h.call('/healthz')).status, 200)
  const metrics = await h.call('/metrics')
  t.match(metrics.text, /gateway_http_requests_total\{group="session",status_class="4xx"\} [1-9]/, '429s counted under their route group')
})

t.test('the window resets', async (t) => {
  const h = await startHarness({ env: { LOGIN_RATE_LIMIT_MAX: '1', LOGIN_RATE_LIMIT_WINDOW_MS: '1000' } })
  t.teardown(h.close)
  t.equal(await login(h), 200)
  t.equal(await login(h), 429)
  await new Promise((resolve) => setTimeout(resolve, 1100))
  t.equal(await login(h), 200)
})

t.test('without TRUST_PROXY, X-Forwarded-For is ignored: a client cannot buy a fresh budget', async (t) => {
  const h = await startHarness({ env: { LOGIN_RATE_LIMIT_MAX: String(MAX) } })
  t.teardown(h.close)
  for (let i = 0; i < MAX; i++) t.equal(await login(h, { 'x-forwarded-for': `10.0.0.${i}` }), 200)
  t.equal(await login(h, { 'x-forwarded-for': '10.0.0.99' }), 429)
  t.equal(h.upstream.requests.at(-1)?.headers['x-forwarded-for'], '127.0.0.1', 'and it is not forwarded either')
})

t.test('TRUST_PROXY not including the peer: X-Forwarded-For is still ignored', async (t) => {
  const h = await startHarness({ env: { LOGIN_RATE_LIMIT_MAX: String(MAX), TRUST_PROXY: '10.9.9.9,192.168.0.0/16' } })
  t.teardown(h.close)
  for (let i = 0; i < MAX; i++) t.equal(await login(h, { 'x-forwarded-for': `10.0.0.${i}` }), 200)
  t.equal(await login(h, { 'x-forwarded-for': '10.0.0.99' }), 429)
})

t.test('TRUST_PROXY including the peer: limits are per client IP from X-Forwarded-For, and the chain is forwarded', async (t) => {
  const h = await startHarness({ env: { LOGIN_RATE_LIMIT_MAX: String(MAX), TRUST_PROXY: '127.0.0.1' } })
  t.teardown(h.close)
  for (let i = 0; i < MAX; i++) t.equal(await login(h, { 'x-forwarded-for': '203.0.113.7' }), 200)
  t.equal(await login(h, { 'x-forwarded-for': '203.0.113.7' }), 429, 'that client is limited')
  t.equal(await login(h, { 'x-forwarded-for': '203.0.113.8' }), 200, 'another client is not')
  t.equal(await login(h, { 'x-forwarded-for': '6.6.6.6, 203.0.113.7' }), 429, 'a prefix written by the client does not change who it is')
  t.equal(await login(h, {}), 200, 'the proxy itself (no X-Forwarded-For) is a client of its own')

  await h.call('/api/me', { headers: { ...bearer(), 'x-forwarded-for': '1.1.1.1, 203.0.113.9', 'x-forwarded-proto': 'https', 'x-forwarded-host': 'api.example.com' } })
  const got = h.upstream.requests.at(-1)!
  t.equal(got.headers['x-forwarded-for'], '203.0.113.9, 127.0.0.1', 'chain up to the first untrusted address, then the peer')
  t.equal(got.headers['x-forwarded-proto'], 'https', 'the trusted proxy\'s proto')
  t.equal(got.headers['x-forwarded-host'], 'api.example.com')
})

// On one server, behind Sentinel and on a three-master Cluster: the gateways get the topology's REDIS_* variables.
for (const target of redisTargets(t)) {
  t.test(`Redis-backed (${target.name}): the budget is shared through Redis`, { skip: target.skip }, async (t) => {
    const redis = createRedis(await target.topology())
    t.teardown(async () => { await redis.quit(); redis.disconnect() })
    const ip = '198.51.100.23'
    await redis.del(LOGIN_RATE_LIMIT_KEY_PREFIX + ip)
    const env = { LOGIN_RATE_LIMIT_MAX: String(MAX), TRUST_PROXY: '127.0.0.1', ...await target.env() }
    const a = await startHarness({ env })
    t.teardown(a.close)
    const b = await startHarness({ env })
    t.teardown(b.close)
    t.equal(await login(a, { 'x-forwarded-for': ip }), 200)
    t.equal(await login(b, { 'x-forwarded-for': ip }), 200)
    // The server forgets the script (SCRIPT FLUSH): each gateway meets NOSCRIPT, sends it again, counts on.
    await flushRedisScripts(redis)
    t.equal(await login(a, { 'x-forwarded-for': ip }), 200)
    t.equal(await login(b, { 'x-forwarded-for': ip }), 429, 'two gateways, one budget')
    t.equal(Number(await redis.get(LOGIN_RATE_LIMIT_KEY_PREFIX + ip)), MAX + 1)
    const ttl = await redis.pttl(LOGIN_RATE_LIMIT_KEY_PREFIX + ip)
    t.ok(ttl > 0 && ttl <= 60_000, 'the key expires with the window')
    await redis.del(LOGIN_RATE_LIMIT_KEY_PREFIX + ip)
  })
}
