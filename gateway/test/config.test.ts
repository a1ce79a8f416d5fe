import t from 'tap'
import { redisTopologyConfigCases } from '@weapp/test-kit'
import { loadGatewayConfig, trustProxyList } from '../src/config.js'
import { gatewayServerOptions } from '../src/app.js'

// A real-looking token: a repeated character is refused at boot (packages/common/src/secrets.ts).
const TOKEN = 'gateway-config-test-token-0123456789abcdef'
const base = { INTERNAL_TOKEN: TOKEN }

t.test('defaults', async (t) => {
  const config = loadGatewayConfig({ INTERNAL_TOKEN: TOKEN })
  t.match(config, {
    HOST: '127.0.0.1',
    PORT: 8080,
    SESSION_URL: 'http://127.0.0.1:8081',
    UPSTREAM_TIMEOUT_MS: 10000,
    AUTH_CACHE_TTL_MS: 5000,
    AUTH_CACHE_MAX: 100000,
    LOGIN_RATE_LIMIT_MAX: 30,
    LOGIN_RATE_LIMIT_WINDOW_MS: 60000,
    BODY_LIMIT: 65536,
    LOG_LEVEL: 'info'
  })
  t.equal(config.TRUST_PROXY, undefined)
  t.equal(config.METRICS_TOKEN, undefined)
  t.equal(config.REDIS_URL, undefined)
  const options = gatewayServerOptions(config)
  t.equal(options.trustProxy, false, 'nothing trusted by default')
  t.equal(options.bodyLimit, 65536)
  const logsOff = (o: typeof options): unknown => (o.logController as unknown as { disableRequestLogging: unknown }).disableRequestLogging
  t.equal(logsOff(options), true, 'no per-request logs at info')
  t.equal(logsOff(gatewayServerOptions(loadGatewayConfig({ INTERNAL_TOKEN: TOKEN, LOG_LEVEL: 'debug' }))), false)
})

t.test('values are coerced and validated; problems are named, values never', async (t) => {
  const config = loadGatewayConfig({ INTERNAL_TOKEN: TOKEN, PORT: '9000', AUTH_CACHE_TTL_MS: '0', SESSION_URL: 'http://session:8081', TRUST_PROXY: '10.0.0.5, 10.1.0.0/16' })
  t.equal(config.PORT, 9000)
  t.equal(config.AUTH_CACHE_TTL_MS, 0)
  t.same(gatewayServerOptions(config).trustProxy, ['10.0.0.5', '10.1.0.0/16'])
  t.throws(() => loadGatewayConfig({}), { code: 'COMMON_CONFIG_INVALID', message: /INTERNAL_TOKEN is required/ })
  t.throws(() => loadGatewayConfig({ INTERNAL_TOKEN: TOKEN, SESSION_URL: 'session:8081' }), { message: /SESSION_URL/ })
  t.throws(() => loadGatewayConfig({ INTERNAL_TOKEN: TOKEN, SESSION_URL: 'http://session:8081/prefix' }), { message: /SESSION_URL/ }, 'no path: paths are forwarded unchanged')
  t.throws(() => loadGatewayConfig({ INTERNAL_TOKEN: TOKEN, AUTH_CACHE_TTL_MS: '-1' }), { message: /AUTH_CACHE_TTL_MS/ })
  t.throws(() => loadGatewayConfig({ INTERNAL_TOKEN: TOKEN, METRICS_TOKEN: 'short' }), { message: /METRICS_TOKEN/ })
  const err = t.throws(() => loadGatewayConfig({ INTERNAL_TOKEN: TOKEN, BODY_LIMIT: 'lots' })) as Error
  t.notMatch(err.message, /lots/, 'the bad value is not echoed')
})

t.test('TRUST_PROXY: addresses, CIDRs and proxy-addr ranges; never a blanket true', async (t) => {
  t.equal(trustProxyList(undefined), false)
  t.same(trustProxyList('127.0.0.1'), ['127.0.0.1'])
  t.same(trustProxyList('::1, fd00::/8 ,loopback'), ['::1', 'fd00::/8', 'loopback'])
  for (const bad of ['true', '*', '0.0.0.0/0x', '10.0.0.0/33', '::/129', 'nginx', ',', '10.0.0.1,true']) {
    t.throws(() => trustProxyList(bad), { code: 'COMMON_CONFIG_INVALID', message: /TRUST_PROXY/ }, bad)
    t.throws(() => loadGatewayConfig({ INTERNAL_TOKEN: TOKEN, TRUST_PROXY: bad }), { message: /TRUST_PROXY/ })
  }
})

t.test('cs-messaging settings: upstream URL, push and upload limits', async (t) => {
  const config = loadGatewayConfig({ INTERNAL_TOKEN: TOKEN })
  t.equal(config.CS_MESSAGING_URL, 'http://127.0.0.1:8082')
  t.equal(config.PUSH_BODY_LIMIT, 65536)
  t.equal(config.ADMIN_UPLOAD_LIMIT, 2 * 1024 * 1024)
  t.equal(config.ADMIN_API_KEYS, undefined, 'no admin keys by default: the admin API is off')
  t.throws(() => loadGatewayConfig({ INTERNAL_TOKEN: TOKEN, CS_MESSAGING_URL: 'cs:8082' }), { message: /CS_MESSAGING_URL/ })
  t.throws(() => loadGatewayConfig({ INTERNAL_TOKEN: TOKEN, PUSH_BODY_LIMIT: String(2 * 1024 * 1024) }), { message: /PUSH_BODY_LIMIT/ })
  t.throws(() => loadGatewayConfig({ INTERNAL_TOKEN: TOKEN, ADMIN_UPLOAD_LIMIT: '10' }), { message: /ADMIN_UPLOAD_LIMIT/ })
})

t.test('ADMIN_API_KEYS: id:key pairs, validated at boot; problems are named, keys never', async (t) => {
  const { parseAdminKeys, AdminKeyring } = await import('../src/auth/admin-keys.js')
  const { decodeIdentity } = await import('@weapp/common')
  const k1 = 'k1-0123456789abcdefghijklmnopqrstuv'
  const k2 = 'Zm9vYmFyYmF6cXV4MDEyMzQ1Njc4OWFiY2RlZg=='
  const keys = parseAdminKeys(` ops:${k1} , ci-bot.2:${k2}`)
  t.same(keys.map((k) => k.id), ['ops', 'ci-bot.2'])
  t.same(decodeIdentity(keys[1]!.identityHeader), { kind: 'admin', keyId: 'ci-bot.2' })
  t.notOk(JSON.stringify(keys).includes(k1), 'only digests are kept')
  t.same(parseAdminKeys(undefined), [])
  t.ok(loadGatewayConfig({ INTERNAL_TOKEN: TOKEN, ADMIN_API_KEYS: `ops:${k1}` }))

  const secret = 's3cr3t'.repeat(6)
  const short = '0123456789abcdefghijklmnopqrstu'
  const bad: Array<[string, RegExp]> = [
    [`ops:${short}`, /entry 1 \(ops\): the key must be 32 to 512 characters/],
    [`ops${secret}`, /entry 1 must be id:key/],
    [`:${secret}`, /entry 1: the id must be/],
    [`o p s:${secret}`, /entry 1: the id must be/],
    [`ops:${secret},`, /entry 2 is empty/],
    [`ops:${secret} x`, /the key may contain only/],
    [`ops:${secret},ops:${secret}x`, /entry 2 \(ops\): the id is used twice/],
    [`ops:${secret},dev:${secret}`, /entry 2 \(dev\): the same key is configured twice/],
    [`ops:${TOKEN}`, /must not be INTERNAL_TOKEN/]
  ]
  for (const [value, message] of bad) {
    const err = t.throws(() => loadGatewayConfig({ INTERNAL_TOKEN: TOKEN, ADMIN_API_KEYS: value }), { code: 'COMMON_CONFIG_INVALID', message }, message.source) as Error
    t.notMatch(err.message, secret, 'the key is not echoed')
    t.notMatch(err.message, short)
  }

  const ring = new AdminKeyring(keys)
  t.ok(ring.enabled)
  t.equal(ring.match(k1)?.id, 'ops')
  t.equal(ring.match(k2)?.id, 'ci-bot.2')
  for (const wrong of ['', k1.slice(1), k1 + 'k', k2.toLowerCase(), 'x'.repeat(600)]) t.equal(ring.match(wrong), undefined, wrong.slice(0, 10))
  t.notOk(new AdminKeyring([]).enabled)
})

t.test('Redis topology: one server, Sentinel or Cluster, parsed once at load; a bad one stops boot, named', async (t) => {
  redisTopologyConfigCases(t, (env) => loadGatewayConfig({ ...base, ...env }))
})
