import t from 'tap'
import { redisTopologyConfigCases } from '@weapp/test-kit'
import { loadSessionConfig } from '../src/config.js'

const base = {
  // A real-looking token: a repeated character is refused at boot (packages/common/src/secrets.ts).
  INTERNAL_TOKEN: 'internal-token-for-session-config-tests-0123456789',
  APP_ID: 'wx0123456789abcdef',
  APP_SECRET: '0123456789abcdef0123456789abcdef'
}

t.test('defaults', async (t) => {
  const config = loadSessionConfig(base)
  t.equal(config.PORT, 8081)
  t.equal(config.WECHAT_API_BASE, 'https://api.weixin.qq.com')
  t.equal(config.MONGO_URL, undefined)
  t.equal(config.MONGO_DB, 'weapp')
  t.equal(config.SESSION_IDLE_TTL_SEC, 7 * 24 * 3600)
  t.equal(config.SESSION_MAX_TTL_SEC, 30 * 24 * 3600)
  t.equal(config.TOKEN_SOURCE, 'stable')
  t.equal(config.WECHAT_TIMEOUT_MS, 5000)
})

t.test('numbers are coerced from the environment', async (t) => {
  const config = loadSessionConfig({ ...base, PORT: '9000', SESSION_IDLE_TTL_SEC: '3600', WECHAT_TIMEOUT_MS: '250', TOKEN_SOURCE: 'classic' })
  t.equal(config.PORT, 9000)
  t.equal(config.SESSION_IDLE_TTL_SEC, 3600)
  t.equal(config.WECHAT_TIMEOUT_MS, 250)
  t.equal(config.TOKEN_SOURCE, 'classic')
})

t.test('a missing or malformed secret stops the service, named but never echoed', async (t) => {
  t.throws(() => loadSessionConfig({ INTERNAL_TOKEN: base.INTERNAL_TOKEN, APP_ID: base.APP_ID }), { code: 'COMMON_CONFIG_INVALID', message: /APP_SECRET is required/ })
  const bad = 'not-a-secret-value'
  try {
    loadSessionConfig({ ...base, APP_SECRET: bad })
    t.fail('should throw')
  } catch (err) {
    t.match((err as Error).message, /APP_SECRET/)
    t.notMatch((err as Error).message, bad)
  }
  t.throws(() => loadSessionConfig({ ...base, APP_ID: 'wxNOPE' }), /APP_ID/)
  t.throws(() => loadSessionConfig({ ...base, TOKEN_SOURCE: 'other' }), /TOKEN_SOURCE/)
  t.throws(() => loadSessionConfig({ ...base, MONGO_URL: 'http://x' }), /MONGO_URL/)
  t.throws(() => loadSessionConfig({ ...base, SESSION_IDLE_TTL_SEC: '7200', SESSION_MAX_TTL_SEC: '3600' }), /SESSION_MAX_TTL_SEC/)
})

t.test('Redis topology: one server, Sentinel or Cluster, parsed once at load; a bad one stops boot, named', async (t) => {
  redisTopologyConfigCases(t, (env) => loadSessionConfig({ ...base, ...env }))
})
