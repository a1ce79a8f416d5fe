import { createServer } from 'node:http'
import { once } from 'node:events'
import type { AddressInfo } from 'node:net'
import t, { type Test } from 'tap'
import Fastify from 'fastify'
import { Pool } from 'undici'
import { SessionResolver } from '../src/auth/resolver.js'
import { AuthFailureLimiter } from '@weapp/common'
import { bearerCredential } from '../src/auth/credentials.js'
import { GatewayMetrics } from '../src/metrics.js'

// The session service's answer is checked against the /internal/resolve contract (@weapp/common
// contracts/resolve.ts): a 200 that does not match it is a 502 (GATEWAY_UPSTREAM_BAD_RESPONSE), never a
// session and never a crash.

const IDENTITY = { kind: 'user', openid: 'o1', sessionId: 's1', via: 'bearer' }
const EXPIRES = new Date(Date.now() + 3600_000).toISOString()

async function resolverAnswering (t: Test, body: string): Promise<{ resolver: SessionResolver, metrics: GatewayMetrics, received: unknown[] }> {
  const received: unknown[] = []
  const server = createServer((req, res) => {
    let text = ''
    req.on('data', (chunk: Buffer) => { text += chunk.toString() })
    req.on('end', () => {
      received.push({ path: req.url, body: JSON.parse(text) })
      res.writeHead(200, { 'content-type': 'application/json' }).end(body)
    })
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const pool = new Pool(`http://127.0.0.1:${(server.address() as AddressInfo).port}`)
  t.teardown(async () => {
    await pool.close()
    server.close()
  })
  const metrics = new GatewayMetrics(['session'])
  const resolver = new SessionResolver({
    pool,
    upstreamName: 'session',
    internalToken: 'i'.repeat(32),
    timeoutMs: 2000,
    cacheTtlMs: 60_000,
    cacheMax: 10,
    refusalTtlMs: 0,
    refusalMax: 10,
    limiter: new AuthFailureLimiter({ max: 100, windowMs: 60_000, redis: null, log: Fastify().log }),
    metrics
  })
  return { resolver, metrics, received }
}

t.test('a 200 matching the contract is a session; the request is the contract\'s body', async (t) => {
  const { resolver, received } = await resolverAnswering(t, JSON.stringify({ identity: IDENTITY, expiresAt: EXPIRES }))
  const result = await resolver.resolve(bearerCredential('tok'), 'req-1', '127.0.0.1')
  t.match(result, { ok: true, session: { identity: IDENTITY } })
  t.same(received, [{ path: '/internal/resolve', body: { bearer: 'tok' } }])
})

t.test('a 200 that breaks the contract is GATEWAY_UPSTREAM_BAD_RESPONSE, not a session', async (t) => {
  const malformed: Array<[string, string]> = [
    ['not JSON', '<html>oops</html>'],
    ['JSON null', 'null'],
    ['no identity', JSON.stringify({ expiresAt: EXPIRES })],
    ['an admin identity', JSON.stringify({ identity: { kind: 'admin', keyId: 'k' }, expiresAt: EXPIRES })],
    ['an unknown via', JSON.stringify({ identity: { ...IDENTITY, via: 'password' }, expiresAt: EXPIRES })],
    ['a numeric openid', JSON.stringify({ identity: { ...IDENTITY, openid: 1 }, expiresAt: EXPIRES })],
    ['no expiresAt', JSON.stringify({ identity: IDENTITY })],
    ['an expiresAt that is not a date', JSON.stringify({ identity: IDENTITY, expiresAt: 'tomorrow' })],
    ['a bad absoluteExpiresAt', JSON.stringify({ identity: { ...IDENTITY, absoluteExpiresAt: 'next tuesday' }, expiresAt: EXPIRES })]
  ]
  for (const [name, body] of malformed) {
    const { resolver, metrics } = await resolverAnswering(t, body)
    await t.rejects(resolver.resolve(bearerCredential('tok'), 'req-1', '127.0.0.1'), { code: 'GATEWAY_UPSTREAM_BAD_RESPONSE', statusCode: 502 }, name)
    t.equal(resolver.cacheSize, 0, `${name}: nothing cached`)
    t.match(await metrics.registry.metrics(), /gateway_upstream_errors_total\{upstream="session",kind="bad_response"\} 1\b/, name)
  }
})
