import t from 'tap'
import { loadGatewayConfig, trustProxyList } from '../src/config.js'
import { gatewayServerOptions } from '../src/app.js'

const TOKEN = 'x'.repeat(32)

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
