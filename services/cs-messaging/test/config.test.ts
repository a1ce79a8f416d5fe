import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { redisTopologyConfigCases } from '@weapp/test-kit'
import { loadCsConfig } from '../src/config.js'
import { AutoReplyRules } from '../src/auto-reply/rules.js'

const base = {
  // Real-looking secrets: a repeated character or a short token is refused at boot (packages/common/src/secrets.ts).
  INTERNAL_TOKEN: 'internal-token-for-cs-config-tests-0123456789',
  APP_ID: 'wx0123456789abcdef',
  WECHAT_TOKEN: 'Token0123456789abcdefXYZ'
}
const AES_KEY = 'kWxPEV2UEDyxWpmPdKC3F4dgPDmOvfKX1HGnEUDS1aR'

t.test('defaults', async (t) => {
  const c = loadCsConfig(base)
  t.equal(c.PORT, 8082)
  t.equal(c.WECHAT_ENCODING_AES_KEY, undefined, 'plaintext mode when no key')
  t.equal(c.PUSH_ALLOW_PLAINTEXT, true)
  t.equal(c.PUSH_TIMESTAMP_WINDOW_SEC, 300)
  t.equal(c.PUSH_BODY_LIMIT, 64 * 1024)
  t.equal(c.PUSH_ACK_TIMEOUT_MS, 3000)
  t.equal(c.DEDUP_TTL_SEC, 86400)
  t.equal(c.MESSAGE_RETENTION_DAYS, 180)
  t.equal(c.DEAD_LETTER_RETENTION_DAYS, 30)
  t.equal(c.DEAD_LETTER_MAX, 10_000)
  t.equal(c.MONGO_URL, undefined)
  t.equal(c.MONGO_DB, 'weapp')
  t.equal(c.WORKER_ENABLED, true)
  t.equal(c.WORKER_CONCURRENCY, 4)
  t.equal(c.WORKER_MAX_ATTEMPTS, 5)
  t.equal(c.WORKER_RETRY_BASE_MS, 1000)
  t.equal(c.WORKER_RETRY_MAX_MS, 300_000)
  t.equal(c.WORKER_CLAIM_IDLE_MS, 60_000)
  t.equal(c.WELCOME_TEXT, undefined)
  t.same(c.autoReplyRules, [])
  t.equal(c.TRANSFER_TO_CS, false)
  t.equal(c.APP_SECRET, undefined)
  t.equal(c.WECHAT_API_BASE, 'https://api.weixin.qq.com')
  t.equal(c.TOKEN_SOURCE, 'stable')
  t.equal(c.MEDIA_UPLOAD_MAX_BYTES, 2 * 1024 * 1024)
  t.equal(c.MEDIA_DOWNLOAD_MAX_BYTES, 10 * 1024 * 1024)
})

t.test('plaintext pushes: refused by default once an EncodingAESKey is set, accepted when allowed or when there is no key', async (t) => {
  const key = { WECHAT_ENCODING_AES_KEY: AES_KEY }
  t.equal(loadCsConfig({ ...base, ...key }).PUSH_ALLOW_PLAINTEXT, false, 'a key: safe/compatible only by default')
  t.equal(loadCsConfig({ ...base, ...key, PUSH_ALLOW_PLAINTEXT: 'true' }).PUSH_ALLOW_PLAINTEXT, true, 'explicitly allowed')
  t.equal(loadCsConfig({ ...base, ...key, PUSH_ALLOW_PLAINTEXT: '' }).PUSH_ALLOW_PLAINTEXT, false, 'empty is unset (compose passes unset variables as empty)')
  t.equal(loadCsConfig(base).PUSH_ALLOW_PLAINTEXT, true, 'no key: plaintext is the only mode')
  t.equal(loadCsConfig({ ...base, PUSH_ALLOW_PLAINTEXT: 'true' }).PUSH_ALLOW_PLAINTEXT, true)
  t.throws(() => loadCsConfig({ ...base, PUSH_ALLOW_PLAINTEXT: 'maybe' }), /PUSH_ALLOW_PLAINTEXT/)
})

t.test('retention settings are bounded', async (t) => {
  const c = loadCsConfig({ ...base, MESSAGE_RETENTION_DAYS: '7', DEAD_LETTER_RETENTION_DAYS: '3', DEAD_LETTER_MAX: '500', DEDUP_TTL_SEC: '3600' })
  t.same([c.MESSAGE_RETENTION_DAYS, c.DEAD_LETTER_RETENTION_DAYS, c.DEAD_LETTER_MAX, c.DEDUP_TTL_SEC], [7, 3, 500, 3600])
  for (const [name, value] of [
    ['MESSAGE_RETENTION_DAYS', '0'], ['MESSAGE_RETENTION_DAYS', '3651'], ['MESSAGE_RETENTION_DAYS', '1.5'],
    ['DEAD_LETTER_RETENTION_DAYS', '0'], ['DEAD_LETTER_RETENTION_DAYS', '366'],
    ['DEAD_LETTER_MAX', '9'], ['DEAD_LETTER_MAX', '1000001'], ['DEAD_LETTER_MAX', 'lots'],
    ['DEDUP_TTL_SEC', '59'], ['DEDUP_TTL_SEC', String(30 * 86400 + 1)]
  ] as const) {
    t.throws(() => loadCsConfig({ ...base, [name]: value }), { code: 'COMMON_CONFIG_INVALID', message: new RegExp(name) }, `${name}=${value}`)
  }
})

t.test('media limits are bounded', async (t) => {
  t.equal(loadCsConfig({ ...base, MEDIA_UPLOAD_MAX_BYTES: '1048576' }).MEDIA_UPLOAD_MAX_BYTES, 1048576)
  t.throws(() => loadCsConfig({ ...base, MEDIA_UPLOAD_MAX_BYTES: String(11 * 1024 * 1024) }), /MEDIA_UPLOAD_MAX_BYTES/)
  t.throws(() => loadCsConfig({ ...base, MEDIA_DOWNLOAD_MAX_BYTES: '10' }), /MEDIA_DOWNLOAD_MAX_BYTES/)
})

t.test('values are coerced from the environment; secrets may come from files', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'cs-config-'))
  writeFileSync(join(dir, 'token'), 'FromFile0123456789abcdef\n')
  const c = loadCsConfig({
    ...base,
    WECHAT_TOKEN: '',
    WECHAT_TOKEN_FILE: join(dir, 'token'),
    WECHAT_ENCODING_AES_KEY: AES_KEY,
    PUSH_ALLOW_PLAINTEXT: 'false',
    PUSH_TIMESTAMP_WINDOW_SEC: '60',
    WORKER_CONCURRENCY: '16',
    TRANSFER_TO_CS: 'true',
    WELCOME_TEXT: '你好'
  })
  t.equal(c.WECHAT_TOKEN, 'FromFile0123456789abcdef')
  t.equal(c.PUSH_ALLOW_PLAINTEXT, false)
  t.equal(c.PUSH_TIMESTAMP_WINDOW_SEC, 60)
  t.equal(c.WORKER_CONCURRENCY, 16)
  t.equal(c.TRANSFER_TO_CS, true)
  t.equal(c.WELCOME_TEXT, '你好')
})

t.test('a missing or malformed secret stops the service, named but never echoed', async (t) => {
  t.throws(() => loadCsConfig({ INTERNAL_TOKEN: base.INTERNAL_TOKEN, APP_ID: base.APP_ID }), { code: 'COMMON_CONFIG_INVALID', message: /WECHAT_TOKEN is required/ })
  for (const [name, value] of [['WECHAT_TOKEN', 'ab'], ['WECHAT_TOKEN', 'has space-and-dash'], ['WECHAT_TOKEN', 'x'.repeat(33)], ['WECHAT_ENCODING_AES_KEY', 'tooShortKey'], ['WECHAT_ENCODING_AES_KEY', 'A'.repeat(42) + '!']] as const) {
    try {
      loadCsConfig({ ...base, [name]: value })
      t.fail(`${name}=${value} should be refused`)
    } catch (err) {
      t.match((err as Error).message, new RegExp(name))
      t.notMatch((err as Error).message, value)
    }
  }
  t.throws(() => loadCsConfig({ ...base, PUSH_ALLOW_PLAINTEXT: 'false' }), /PUSH_ALLOW_PLAINTEXT=false needs WECHAT_ENCODING_AES_KEY/)
  t.throws(() => loadCsConfig({ ...base, PUSH_TIMESTAMP_WINDOW_SEC: '0' }), /PUSH_TIMESTAMP_WINDOW_SEC/)
  t.throws(() => loadCsConfig({ ...base, PUSH_ACK_TIMEOUT_MS: '6000' }), /PUSH_ACK_TIMEOUT_MS/, 'an ack timeout past WeChat\'s 5 s is refused')
  t.throws(() => loadCsConfig({ ...base, WORKER_RETRY_BASE_MS: '5000', WORKER_RETRY_MAX_MS: '1000' }), /WORKER_RETRY_MAX_MS/)
  t.throws(() => loadCsConfig({ ...base, REDIS_URL: 'http://x' }), /REDIS_URL/)
})

t.test('AUTO_REPLY_RULES: parsed at boot, refused with the rule named', async (t) => {
  const c = loadCsConfig({ ...base, AUTO_REPLY_RULES: JSON.stringify([{ keyword: 'hi', reply: 'Hello!' }, { match: 'exact', keyword: '人工', transfer: true }]) })
  t.same(c.autoReplyRules, [
    { match: 'contains', keyword: 'hi', ignoreCase: false, transfer: false, reply: 'Hello!' },
    { match: 'exact', keyword: '人工', ignoreCase: false, transfer: true }
  ])
  const bad: Array<[unknown, RegExp]> = [
    ['not json', /not valid JSON/],
    [{ keyword: 'x' }, /must be a JSON array/],
    [[{ keyword: '', reply: 'x' }], /\[0\]\.keyword/],
    [[{ keyword: 'x' }], /\[0\] needs exactly one of a reply or "transfer": true/],
    [[{ keyword: 'x', reply: 'y', transfer: true }], /needs exactly one/],
    [[{ keyword: 'x', reply: 'y' }, { match: 'fuzzy', keyword: 'x', reply: 'y' }], /\[1\]\.match/],
    [[{ match: 'regex', keyword: '(unclosed', reply: 'y' }], /\[0\]\.keyword is not a valid regular expression/],
    [[{ keyword: 'x', reply: 'y', extra: 1 }], /unknown property extra/],
    [[{ keyword: 'x', reply: 'r'.repeat(2049) }], /\[0\]\.reply/]
  ]
  for (const [rules, message] of bad) {
    t.throws(() => loadCsConfig({ ...base, AUTO_REPLY_RULES: typeof rules === 'string' ? rules : JSON.stringify(rules) }), { code: 'COMMON_CONFIG_INVALID', message })
  }
})

t.test('rule matching: first match wins; events never transferred', async (t) => {
  const c = loadCsConfig({
    ...base,
    WELCOME_TEXT: 'hi!',
    AUTO_REPLY_RULES: JSON.stringify([
      { match: 'exact', keyword: 'Help', ignoreCase: true, reply: 'exact' },
      { match: 'prefix', keyword: 'order', reply: 'prefix' },
      { match: 'contains', keyword: 'refund', reply: 'contains' },
      { match: 'regex', keyword: '^\\d{6}$', reply: 'regex' }
    ])
  })
  const rules = new AutoReplyRules({ rules: c.autoReplyRules, welcomeText: c.WELCOME_TEXT, transferAll: false })
  const text = (Content: string): any => ({ ToUserName: 'gh', FromUserName: 'o', CreateTime: 1, MsgType: 'text', Content, MsgId: '1' })
  t.equal(rules.decide(text('  help ')).reply?.text, 'exact')
  t.equal(rules.decide(text('help me')).reply, undefined)
  t.equal(rules.decide(text('order 1 refund')).reply?.text, 'prefix', 'first match wins')
  t.equal(rules.decide(text('a refund please')).reply?.text, 'contains')
  t.equal(rules.decide(text('123456')).reply?.text, 'regex')
  t.equal(rules.decide(text('Order')).reply, undefined, 'case-sensitive unless ignoreCase')
  t.same(rules.decide({ ToUserName: 'gh', FromUserName: 'o', CreateTime: 1, MsgType: 'image', PicUrl: 'u', MediaId: 'm', MsgId: '2' }), { transfer: false })
  t.same(rules.decide({ ToUserName: 'gh', FromUserName: 'o', CreateTime: 1, MsgType: 'event', Event: 'user_enter_tempsession', SessionFrom: 'x' }), { reply: { text: 'hi!', reason: 'welcome' }, transfer: false })
  const all = new AutoReplyRules({ rules: [], transferAll: true })
  t.equal(all.decide(text('x')).transfer, true)
  t.equal(all.decide({ ToUserName: 'gh', FromUserName: 'o', CreateTime: 1, MsgType: 'image', PicUrl: 'u', MediaId: 'm', MsgId: '2' }).transfer, true)
  t.equal(all.decide({ ToUserName: 'gh', FromUserName: 'o', CreateTime: 1, MsgType: 'event', Event: 'user_enter_tempsession', SessionFrom: 'x' }).transfer, false, 'never an event')
})

t.test('Redis topology: one server, Sentinel or Cluster, parsed once at load; a bad one stops boot, named', async (t) => {
  redisTopologyConfigCases(t, (env) => loadCsConfig({ ...base, ...env }))
})
