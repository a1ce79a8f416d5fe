import t from 'tap'
import { randomBytes } from 'node:crypto'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Type from 'typebox'
import { CommonEnv, loadConfig } from '@weapp/common'

const Schema = Type.Object({
  ...CommonEnv,
  PORT: Type.Integer({ minimum: 0, maximum: 65535, default: 8081 }),
  APP_SECRET: Type.String({ pattern: '^[0-9a-f]{32}$' })
})
// A real-looking token: a repeated character would be refused as a weak secret (secrets.test.ts).
const token = randomBytes(32).toString('hex')
const secret = 'a'.repeat(32)

t.test('applies defaults and coerces numbers', async (t) => {
  const config = loadConfig(Schema, { INTERNAL_TOKEN: token, APP_SECRET: secret, PORT: '9000' })
  t.equal(config.PORT, 9000)
  t.equal(config.HOST, '127.0.0.1')
  t.equal(config.LOG_LEVEL, 'info')
  t.equal(config.REDIS_URL, undefined)
})

t.test('names every missing variable, and never a value', async (t) => {
  const err = t.throws(() => loadConfig(Schema, { APP_SECRET: 'not-hex-and-secretish' })) as Error & { code: string }
  t.equal(err.code, 'COMMON_CONFIG_INVALID')
  t.match(err.message, /INTERNAL_TOKEN is required/)
  t.match(err.message, /APP_SECRET must match pattern/)
  t.notMatch(err.message, /secretish/)
})

t.test('names a bad value', async (t) => {
  t.throws(() => loadConfig(Schema, { INTERNAL_TOKEN: token, APP_SECRET: secret, PORT: 'eighty' }), { message: /PORT must be integer/ })
  t.throws(() => loadConfig(Schema, { INTERNAL_TOKEN: token, APP_SECRET: secret, REDIS_URL: 'http://x' }), { message: /REDIS_URL must match/ })
  t.throws(() => loadConfig(Schema, { INTERNAL_TOKEN: 'short', APP_SECRET: secret }), { message: /INTERNAL_TOKEN must NOT have fewer than 32 characters/ })
})

t.test('reads secrets from <NAME>_FILE', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'cfg-'))
  const file = join(dir, 'secret')
  writeFileSync(file, secret + '\n')
  const config = loadConfig(Schema, { INTERNAL_TOKEN: token, APP_SECRET_FILE: file })
  t.equal(config.APP_SECRET, secret)
  t.throws(() => loadConfig(Schema, { INTERNAL_TOKEN: token, APP_SECRET_FILE: join(dir, 'missing') }), { message: /APP_SECRET_FILE names a file that cannot be read/ })
})

t.test('an empty <NAME>_FILE is an unset variable, like an empty variable', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'cfg-'))
  const empty = join(dir, 'redis_url')
  writeFileSync(empty, '\n')
  t.equal(loadConfig(Schema, { INTERNAL_TOKEN: token, APP_SECRET: secret, REDIS_URL_FILE: empty }).REDIS_URL, undefined, 'optional: unset')
  t.throws(() => loadConfig(Schema, { APP_SECRET: secret, INTERNAL_TOKEN_FILE: empty }), { message: /INTERNAL_TOKEN is required/ })
})
