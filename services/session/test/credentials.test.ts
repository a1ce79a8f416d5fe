import { createHash } from 'node:crypto'
import t from 'tap'
import { credentialHash, generateCredential } from '../src/sessions/credentials.js'
import { evaluateExpiry, initialExpiry, type ExpiryPolicy } from '../src/sessions/expiry.js'

const sha = (s: string): string => createHash('sha256').update(s).digest('hex')

t.test('credential formats: random, at least 128 bits, wafer-compatible alphabets', async (t) => {
  const bearer = generateCredential('bearer')
  t.match(bearer.token, /^[A-Za-z0-9_-]{43}$/, '32 bytes base64url')
  t.ok(Buffer.from(bearer.token, 'base64url').length * 8 >= 128)
  const w1 = generateCredential('wafer1')
  t.match(w1.id, /^[0-9a-f]{64}$/)
  t.match(w1.skey, /^[0-9a-f]{40}$/)
  const w2 = generateCredential('wafer2')
  t.match(w2.skey, /^[0-9a-f]{40}$/)
  const many = new Set(Array.from({ length: 1000 }, () => generateCredential('bearer').token))
  t.equal(many.size, 1000, 'no repeats')
})

t.test('credentialHash follows docs/internals.md exactly', async (t) => {
  t.equal(credentialHash({ kind: 'bearer', token: 'abc' }), sha('bearer:abc'))
  t.equal(credentialHash({ kind: 'wafer1', id: 'i', skey: 's' }), sha('wafer1:i:s'))
  t.equal(credentialHash({ kind: 'wafer2', skey: 's' }), sha('wafer2:s'))
  t.not(credentialHash({ kind: 'wafer2', skey: 's' }), credentialHash({ kind: 'bearer', token: 's' }), 'kinds never collide')
})

t.test('expiry math: sliding idle expiry capped by the absolute one, written at most once a minute', async (t) => {
  const policy: ExpiryPolicy = { idleTtlMs: 3_600_000, maxTtlMs: 3 * 3_600_000, touchIntervalMs: 60_000 }
  const t0 = new Date(0)
  const { expiresAt, absoluteExpiresAt } = initialExpiry(t0, policy)
  t.equal(expiresAt.getTime(), 3_600_000)
  t.equal(absoluteExpiresAt.getTime(), 3 * 3_600_000)
  const s = { lastSeenAt: t0, expiresAt, absoluteExpiresAt }
  t.same(evaluateExpiry(s, new Date(30_000), policy), { valid: true, expiresAt, touch: false })
  t.same(evaluateExpiry(s, new Date(60_000), policy), { valid: true, expiresAt: new Date(60_000 + 3_600_000), touch: true })
  const late = { lastSeenAt: new Date(2.5 * 3_600_000), expiresAt: new Date(3 * 3_600_000), absoluteExpiresAt }
  t.same(evaluateExpiry(late, new Date(2.9 * 3_600_000), policy), { valid: true, expiresAt: absoluteExpiresAt, touch: true }, 'capped')
  t.match(evaluateExpiry(s, new Date(3_600_000), policy), { valid: false, reason: /inactivity/ })
  t.match(evaluateExpiry(late, absoluteExpiresAt, policy), { valid: false, reason: /maximum lifetime/ })
  const short = initialExpiry(t0, { ...policy, maxTtlMs: 1000 })
  t.equal(short.expiresAt.getTime(), 1000, 'idle expiry never past the cap')
})
