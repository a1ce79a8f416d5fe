import t from 'tap'
import { KEY_BYTES, OWASP_SCRYPT, PasswordHasher, SALT_BYTES, checkPasswordPolicy, passwordProblem } from '../src/agents/passwords.js'
import { TEST_SCRYPT } from './fixtures/harness.js'

const PASSWORD = 'correct horse battery staple'

t.test('at the real parameters: scrypt$17$8$1$<salt>$<key>, verified, and the event loop keeps running meanwhile', async (t) => {
  const hasher = new PasswordHasher()
  t.same(hasher.cost, OWASP_SCRYPT)
  let ticks = 0
  const timer = setInterval(() => { ticks++ }, 5)
  const started = performance.now()
  const encoded = await hasher.hash(PASSWORD)
  const took = performance.now() - started
  clearInterval(timer)
  const parts = encoded.split('$')
  t.same(parts.slice(0, 4), ['scrypt', '17', '8', '1'])
  t.equal(Buffer.from(parts[4]!, 'base64url').length, SALT_BYTES)
  t.equal(Buffer.from(parts[5]!, 'base64url').length, KEY_BYTES)
  t.match(parts[4], /^[A-Za-z0-9_-]{22}$/, 'base64url, no padding')
  // crypto.scrypt on the thread pool: timers fire while it works (a sync hash would allow none).
  t.ok(ticks >= Math.floor(took / 5 / 4), `timers fired during the hash (${ticks} in ${took.toFixed(0)} ms)`)
  t.equal(await hasher.verify(PASSWORD, encoded), true)
  t.equal(await hasher.verify(PASSWORD + ' ', encoded), false)
})

t.test('salted: two hashes of one password differ; a hash made at another cost still verifies', async (t) => {
  const fast = new PasswordHasher({ cost: TEST_SCRYPT })
  const a = await fast.hash(PASSWORD)
  const b = await fast.hash(PASSWORD)
  t.not(a, b)
  t.match(a, /^scrypt\$10\$8\$1\$/)
  const other = new PasswordHasher({ cost: { log2N: 11, r: 8, p: 1 } })
  t.equal(await other.verify(PASSWORD, a), true, 'the stored parameters are used')
  t.equal(await other.verify('wrong password!!', a), false)
})

t.test('malformed or outrageous stored hashes never match (and are not computed)', async (t) => {
  const hasher = new PasswordHasher({ cost: TEST_SCRYPT })
  const good = await hasher.hash(PASSWORD)
  const [, , r, p, salt, key] = good.split('$')
  for (const bad of ['', 'plain', `bcrypt$10$8$1$${salt!}$${key!}`, `scrypt$10$8$1$${salt!}`, `scrypt$x$8$1$${salt!}$${key!}`,
    `scrypt$30$${r!}$${p!}$${salt!}$${key!}`, `scrypt$10$8$1$$${key!}`, `scrypt$10$8$1$${salt!}$`, `scrypt$010$8$1$${salt!}$${key!}`]) {
    t.equal(await hasher.verify(PASSWORD, bad), false, bad)
  }
})

t.test('an unknown login costs a real check: verifyNothing derives a key through the same bounded pool', async (t) => {
  const hasher = new PasswordHasher({ cost: { log2N: 14, r: 8, p: 1 }, concurrency: 1, maxWaiting: 0 })
  const dummy = hasher.verifyNothing(PASSWORD)
  // The only slot is taken by the dummy check: another hash is refused, so the dummy check does scrypt work.
  await t.rejects(hasher.hash(PASSWORD), { code: 'SESSION_PASSWORD_BUSY', statusCode: 503 })
  t.equal(await dummy, false)
  // And it takes about as long as a real check (loose bound: the machine is shared).
  const encoded = await hasher.hash(PASSWORD)
  let real = 0
  let fake = 0
  for (let i = 0; i < 3; i++) {
    let s = performance.now(); await hasher.verify('wrong password!!', encoded); real += performance.now() - s
    s = performance.now(); await hasher.verifyNothing('wrong password!!'); fake += performance.now() - s
  }
  t.ok(fake > real / 3 && fake < real * 3, `dummy ${fake.toFixed(0)} ms vs real ${real.toFixed(0)} ms`)
})

t.test('a bounded number of hashes at once, a bounded queue, then 503 SESSION_PASSWORD_BUSY', async (t) => {
  const hasher = new PasswordHasher({ cost: { log2N: 13, r: 8, p: 1 }, concurrency: 1, maxWaiting: 1 })
  const first = hasher.hash(PASSWORD)
  const second = hasher.hash(PASSWORD)
  await t.rejects(hasher.hash(PASSWORD), { code: 'SESSION_PASSWORD_BUSY' })
  t.match(await first, /^scrypt\$13\$/)
  t.match(await second, /^scrypt\$13\$/)
  t.match(await hasher.hash(PASSWORD), /^scrypt\$13\$/, 'free again once the others are done')
})

t.test('password policy: 12-256 characters, counted as characters (code points)', async (t) => {
  t.match(passwordProblem('a'.repeat(11)), /at least 12/)
  t.equal(passwordProblem('a'.repeat(12)), undefined)
  t.equal(passwordProblem('a'.repeat(256)), undefined)
  t.match(passwordProblem('a'.repeat(257)), /at most 256/)
  t.equal(passwordProblem('😀'.repeat(12)), undefined, '12 emoji are 12 characters (24 UTF-16 units)')
  t.match(passwordProblem('😀'.repeat(11)), /at least 12/)
  t.throws(() => { checkPasswordPolicy('short') }, { code: 'SESSION_PASSWORD_WEAK', statusCode: 400 })
})
