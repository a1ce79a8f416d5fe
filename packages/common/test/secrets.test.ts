import t, { type Test } from 'tap'
import { randomBytes } from 'node:crypto'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Type from 'typebox'
import { CommonEnv, MIN_SECRET_BITS, PUBLISHED_SECRETS, estimatedBits, isLoopbackUrl, loadConfig, secretWeakness, urlPassword } from '@weapp/common'
import { DEFAULT_SIM_APP } from '@weapp/wechat-sim'

// A schema with one secret of each kind, as the services mark theirs.
const Schema = Type.Object({
  ...CommonEnv,
  APP_SECRET: Type.String({ pattern: '^[0-9a-f]{32}$', secret: true }),
  WECHAT_API_BASE: Type.String({ pattern: '^https?://', default: 'https://api.weixin.qq.com' }),
  MONGO_URL: Type.Optional(Type.String({ pattern: '^mongodb(\\+srv)?://', secret: 'url' })),
  ADMIN_API_KEYS: Type.Optional(Type.String({ minLength: 1, secret: 'id-key-list' }))
})
const hex = (bytes: number): string => randomBytes(bytes).toString('hex')
const good = { INTERNAL_TOKEN: hex(32), APP_SECRET: hex(16) }

/** The loader's refusal, checked to name `variable` and never to contain `value`. */
function refusal (t: Test, env: Record<string, string>, variable: string, value: string): string {
  const err = t.throws(() => loadConfig(Schema, env)) as Error & { code: string }
  t.equal(err.code, 'COMMON_CONFIG_INVALID')
  t.match(err.message, variable, `names ${variable}`)
  t.notOk(err.message.includes(value), 'never the value')
  return err.message
}

t.test('good random secrets pass', async (t) => {
  const config = loadConfig(Schema, { ...good, MONGO_URL: `mongodb://weapp-session:${hex(16)}@mongo:27017/?authSource=weapp`, ADMIN_API_KEYS: `ops:${hex(32)},bot:${randomBytes(32).toString('base64url')}` })
  t.equal(config.APP_SECRET, good.APP_SECRET)
  // 1,000 draws of the shortest value the docs suggest (openssl rand -hex 16): none refused.
  const refused = Array.from({ length: 1000 }, () => hex(16)).filter((v) => secretWeakness(v) !== undefined)
  t.same(refused, [])
})

t.test('placeholders are refused, whatever their case or separators', async (t) => {
  for (const value of ['change-me-internal-token-32-characters-or-more', 'CHANGE_ME_0123456789abcdef0123456789abcdef', 'changeMe0123456789abcdef0123456789abcdef', 'change0me0to0the0console0EncodingAESKey0000', 'please-replace-me-with-32-random-characters!', 'placeholder-0123456789abcdefghijklmnopqrstu']) {
    const message = refusal(t, { ...good, INTERNAL_TOKEN: value }, 'INTERNAL_TOKEN is a placeholder', value)
    t.match(message, /openssl rand -hex 32/, 'says how to make one')
  }
})

t.test('too little entropy: one repeated character, a short alphabet', async (t) => {
  t.equal(estimatedBits('a'.repeat(64)), 0)
  t.equal(estimatedBits('ab'.repeat(20)), 40)
  t.ok(estimatedBits(hex(16)) > 100)
  for (const value of ['x'.repeat(32), 'ab'.repeat(16), '012'.repeat(11), '1'.repeat(31) + '2']) {
    t.ok(estimatedBits(value) < MIN_SECRET_BITS, `${estimatedBits(value)} bits`)
    refusal(t, { ...good, INTERNAL_TOKEN: value }, 'INTERNAL_TOKEN has too little entropy', value)
  }
  refusal(t, { ...good, APP_SECRET: 'ab'.repeat(16) }, 'APP_SECRET has too little entropy', 'ab'.repeat(16))
  // Four distinct characters over 32 is exactly 64 bits: the edge is accepted.
  t.equal(secretWeakness('0123'.repeat(8)), undefined)
})

t.test('published values are refused; the simulator\'s AppSecret only as APP_SECRET against a loopback simulator', async (t) => {
  const simSecret = DEFAULT_SIM_APP.appSecret
  t.ok(PUBLISHED_SECRETS.some((p) => p.value === simSecret), 'the simulator\'s secret is listed (and stays in step with wechat-sim)')

  refusal(t, { ...good, APP_SECRET: simSecret }, 'APP_SECRET is a value published', simSecret)
  refusal(t, { ...good, APP_SECRET: simSecret, WECHAT_API_BASE: 'https://api.weixin.qq.com' }, 'APP_SECRET is a value published', simSecret)
  refusal(t, { ...good, APP_SECRET: simSecret, WECHAT_API_BASE: 'http://wechat-sim:8090' }, 'APP_SECRET is a value published', simSecret)
  refusal(t, { ...good, APP_SECRET: simSecret, WECHAT_API_BASE: 'http://127.0.0.1.example.com:8090' }, 'APP_SECRET is a value published', simSecret)
  for (const base of ['http://127.0.0.1:8090', 'http://localhost:8090/', 'http://127.8.9.10:1', 'http://[::1]:8090']) {
    t.equal(loadConfig(Schema, { ...good, APP_SECRET: simSecret, WECHAT_API_BASE: base }).APP_SECRET, simSecret, `allowed with ${base}`)
  }
  // Another variable never gets the allowance.
  refusal(t, { ...good, INTERNAL_TOKEN: simSecret, WECHAT_API_BASE: 'http://127.0.0.1:8090' }, 'INTERNAL_TOKEN is a value published', simSecret)
  t.equal(isLoopbackUrl(undefined), false)
  t.equal(isLoopbackUrl('not a url'), false)
})

t.test('the password of a connection URL is a secret; a URL without one is fine', async (t) => {
  t.equal(urlPassword('mongodb://u:p%40ss@h1:1,h2:2/db?authSource=db'), 'p@ss')
  t.equal(urlPassword('redis://:secret@redis:6379'), 'secret')
  t.equal(urlPassword('redis://redis:6379'), undefined)
  t.equal(urlPassword('redis://user@redis:6379'), undefined)
  t.equal(urlPassword('redis://:@redis:6379'), undefined)
  t.equal(loadConfig(Schema, { ...good, REDIS_URL: 'redis://127.0.0.1:6379', MONGO_URL: 'mongodb://127.0.0.1:27017' }).REDIS_URL, 'redis://127.0.0.1:6379')

  refusal(t, { ...good, REDIS_URL: 'redis://:change-me-redis-password@redis:6379' }, "REDIS_URL's password is a placeholder", 'change-me-redis-password')
  refusal(t, { ...good, MONGO_URL: 'mongodb://weapp:password@mongo:27017/?authSource=admin' }, "MONGO_URL's password has too little entropy", ':password@')
  // A Sentinel URL lists several hosts; its password is a secret like any URL's.
  t.equal(urlPassword('redis+sentinel://app:s%40cret@s1:26379,s2:26379/weapp/1'), 's@cret')
  refusal(t, { ...good, REDIS_URL: 'redis+sentinel://:change-me-redis-password@s1:26379,s2:26379/weapp' }, "REDIS_URL's password is a placeholder", 'change-me-redis-password')
  refusal(t, { ...good, REDIS_CLUSTER_NODES: 'n1:7000', REDIS_PASSWORD: 'redispassword' }, 'REDIS_PASSWORD has too little entropy', 'redispassword')
})

t.test('each key of an id:key list is a secret, named by position and id', async (t) => {
  const strong = hex(32)
  refusal(t, { ...good, ADMIN_API_KEYS: `ops:${strong},bot:change-me-admin-key-32-characters-or-more` }, 'ADMIN_API_KEYS entry 2 (bot): the key is a placeholder', 'change-me-admin-key')
  refusal(t, { ...good, ADMIN_API_KEYS: `ops:${'k'.repeat(32)}` }, 'ADMIN_API_KEYS entry 1 (ops): the key has too little entropy', 'k'.repeat(32))
})

t.test('secrets from <NAME>_FILE are checked the same way', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'secrets-'))
  const file = join(dir, 'internal_token')
  writeFileSync(file, 'change-me-internal-token-32-characters-or-more\n')
  refusal(t, { APP_SECRET: good.APP_SECRET, INTERNAL_TOKEN_FILE: file }, 'INTERNAL_TOKEN is a placeholder', 'change-me-internal-token')
})

t.test('every problem at once, and a malformed value is reported once', async (t) => {
  const message = refusal(t, { INTERNAL_TOKEN: 'short', APP_SECRET: 'ab'.repeat(16), REDIS_URL: 'redis://:changeme@redis' }, 'INTERNAL_TOKEN must NOT have fewer than 32 characters', 'changeme@')
  t.notMatch(message, /INTERNAL_TOKEN has too little entropy/, 'the length problem says it already')
  t.match(message, /APP_SECRET has too little entropy/)
  t.match(message, /REDIS_URL's password is a placeholder/)
})

t.test('a schema with an unknown secret marker is a programming error', async (t) => {
  const Bad = Type.Object({ TOKEN: Type.String({ secret: 'yes' }) })
  t.throws(() => loadConfig(Bad, { TOKEN: hex(32) }), { name: 'TypeError', message: /secret must be true, 'url' or 'id-key-list'/ })
})
