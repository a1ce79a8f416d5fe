import { setImmediate as tick } from 'node:timers/promises'
import t from 'tap'
import { ManualClock } from '@weapp/test-kit'
import { errorFromErrcode, MemoryAccessTokenProvider, type FetchedAccessToken } from '../src/index.js'

/** A fetch whose calls are counted and which answers T1, T2, … (optionally held until released). */
function fakeFetch (expiresIn = 7200) {
  let n = 0
  let gate: Promise<void> | null = null
  let open: (() => void) | null = null
  const fetch = async (): Promise<FetchedAccessToken> => {
    n++
    const me = n
    if (gate !== null) await gate
    await tick()
    return { accessToken: `T${me}`, expiresIn }
  }
  return {
    fetch,
    get calls () { return n },
    hold () { gate = new Promise((resolve) => { open = resolve }) },
    release () { gate = null; open?.() }
  }
}

const stale = (code = 40001): Error => errorFromErrcode(code, 'invalid credential, access_token is invalid or not latest', '/cgi-bin/message/custom/send')

t.test('options are validated at construction', async (t) => {
  t.throws(() => new MemoryAccessTokenProvider(undefined as never), { code: 'WECHAT_OPTIONS_INVALID' })
  t.throws(() => new MemoryAccessTokenProvider({} as never), { code: 'WECHAT_OPTIONS_INVALID' })
  t.throws(() => new MemoryAccessTokenProvider({ fetch: fakeFetch().fetch, refreshAheadMs: -1 }), { code: 'WECHAT_OPTIONS_INVALID' })
  t.throws(() => new MemoryAccessTokenProvider({ fetch: fakeFetch().fetch, now: 5 as never }), { code: 'WECHAT_OPTIONS_INVALID' })
})

t.test('50 concurrent getToken on a cold cache make exactly one fetch', async (t) => {
  const f = fakeFetch()
  const p = new MemoryAccessTokenProvider({ fetch: f.fetch })
  t.teardown(() => p.close())
  const tokens = await Promise.all(Array.from({ length: 50 }, () => p.getToken()))
  t.equal(f.calls, 1)
  t.same(new Set(tokens), new Set(['T1']))
  t.equal(await p.getToken(), 'T1', 'cached afterwards')
  t.equal(f.calls, 1)
})

t.test('refresh ahead: callers keep the current token while one background fetch runs', async (t) => {
  const f = fakeFetch()
  const c = new ManualClock(1_000_000)
  const p = new MemoryAccessTokenProvider({ fetch: f.fetch, refreshAheadMs: 300_000, now: c.nowMs })
  t.teardown(() => p.close())
  t.equal(await p.getToken(), 'T1')
  c.advance(7200_000 - 300_001)
  t.equal(await p.getToken(), 'T1', 'just before the window: no refresh')
  t.equal(f.calls, 1)

  c.advance(2)
  f.hold()
  const during = await Promise.all(Array.from({ length: 20 }, () => p.getToken()))
  t.same(new Set(during), new Set(['T1']), 'inside the window the current token is served at once')
  t.equal(f.calls, 2, 'exactly one background fetch')
  f.release()
  await tick()
  await tick()
  t.equal(await p.getToken(), 'T2')
  t.equal(f.calls, 2)
})

t.test('an expired token is never served: callers wait for the fetch', async (t) => {
  const f = fakeFetch()
  const c = new ManualClock(1_000_000)
  const p = new MemoryAccessTokenProvider({ fetch: f.fetch, now: c.nowMs })
  t.teardown(() => p.close())
  await p.getToken()
  c.advance(7200_000)
  t.same(await Promise.all([p.getToken(), p.getToken(), p.getToken()]), ['T2', 'T2', 'T2'])
  t.equal(f.calls, 2)
})

t.test('a short-lived token is not refreshed on every call', async (t) => {
  // stable_token near its roll-over answers expires_in = 300 s: as long as the refresh-ahead window.
  const f = fakeFetch(300)
  const c = new ManualClock(1_000_000)
  const p = new MemoryAccessTokenProvider({ fetch: f.fetch, refreshAheadMs: 300_000, now: c.nowMs })
  t.teardown(() => p.close())
  await p.getToken()
  await p.getToken()
  c.advance(149_000)
  await p.getToken()
  await tick()
  t.equal(f.calls, 1, 'no refresh during the first half of its life')
  c.advance(1_000)
  t.equal(await p.getToken(), 'T1')
  await tick()
  await tick()
  t.equal(f.calls, 2, 'then one')
})

t.test('fetch failures', async (t) => {
  let fail = true
  let calls = 0
  const errors: unknown[] = []
  const c = new ManualClock(1_000_000)
  const p = new MemoryAccessTokenProvider({
    fetch: async () => { calls++; await tick(); if (fail) throw new Error('boom'); return { accessToken: `T${calls}`, expiresIn: 7200 } },
    now: c.nowMs,
    onRefreshError: (err) => errors.push(err)
  })
  t.teardown(() => p.close())
  const results = await Promise.allSettled([p.getToken(), p.getToken(), p.getToken()])
  t.same(results.map((r) => r.status), ['rejected', 'rejected', 'rejected'], 'every waiter sees the failure')
  t.equal(calls, 1)
  fail = false
  t.equal(await p.getToken(), 'T2', 'the next caller tries again')

  fail = true
  c.advance(7000_000)
  t.equal(await p.getToken(), 'T2', 'a failing background refresh does not hurt callers')
  await tick()
  await tick()
  t.equal(errors.length, 1)
  t.match(errors[0], { message: 'boom' })
})

t.test('fetch returning something unusable', async (t) => {
  const p = new MemoryAccessTokenProvider({ fetch: async () => ({ accessToken: '', expiresIn: 7200 }) })
  await t.rejects(p.getToken(), { code: 'WECHAT_TOKEN_FETCH_INVALID' })
  const q = new MemoryAccessTokenProvider({ fetch: async () => ({ accessToken: 'T', expiresIn: NaN }) })
  await t.rejects(q.getToken(), { code: 'WECHAT_TOKEN_FETCH_INVALID' })
})

t.test('invalidate forgets only the token it names', async (t) => {
  const f = fakeFetch()
  const p = new MemoryAccessTokenProvider({ fetch: f.fetch })
  t.teardown(() => p.close())
  t.equal(await p.getToken(), 'T1')
  await p.invalidate('T0')
  t.equal(await p.getToken(), 'T1')
  await p.invalidate('T1')
  t.equal(await p.getToken(), 'T2')
  t.equal(f.calls, 2)
})

t.test('withToken: a stale-token errcode means one invalidate, one refetch, one retry', async (t) => {
  for (const errcode of [40001, 40014, 42001]) {
    const f = fakeFetch()
    const p = new MemoryAccessTokenProvider({ fetch: f.fetch })
    const invalidated: string[] = []
    const invalidate = p.invalidate.bind(p)
    p.invalidate = async (token) => { invalidated.push(token); await invalidate(token) }
    const used: string[] = []
    const result = await p.withToken(async (token) => {
      used.push(token)
      if (token === 'T1') throw stale(errcode)
      return `sent with ${token}`
    })
    t.equal(result, 'sent with T2', `errcode ${errcode}`)
    t.same(used, ['T1', 'T2'])
    t.same(invalidated, ['T1'])
    t.equal(f.calls, 2)
    await p.close()
  }
})

t.test('withToken: a second stale-token error propagates (no loop)', async (t) => {
  const f = fakeFetch()
  const p = new MemoryAccessTokenProvider({ fetch: f.fetch })
  t.teardown(() => p.close())
  let calls = 0
  await t.rejects(p.withToken(async () => { calls++; throw stale(42001) }), { code: 'WECHAT_TOKEN_INVALID', errcode: 42001 })
  t.equal(calls, 2)
  t.equal(f.calls, 2)
})

t.test('withToken: other errors are not retried', async (t) => {
  const f = fakeFetch()
  const p = new MemoryAccessTokenProvider({ fetch: f.fetch })
  t.teardown(() => p.close())
  let calls = 0
  await t.rejects(p.withToken(async () => { calls++; throw errorFromErrcode(45015, 'response out of time limit', '/cgi-bin/message/custom/send') }), { code: 'WECHAT_SEND_WINDOW_CLOSED', errcode: 45015 })
  // A 40001 from the token endpoint is a wrong AppSecret: refreshing cannot help.
  await t.rejects(p.withToken(async () => { calls++; throw errorFromErrcode(40001, 'invalid credential', '/cgi-bin/stable_token') }), { code: 'WECHAT_CREDENTIALS_INVALID' })
  await t.rejects(p.withToken(async () => { calls++; throw new Error('plain') }), { message: 'plain' })
  t.equal(calls, 3)
  t.equal(f.calls, 1)
})

t.test('close', async (t) => {
  const f = fakeFetch()
  const p = new MemoryAccessTokenProvider({ fetch: f.fetch })
  await p.getToken()
  await p.close()
  await t.rejects(p.getToken(), { code: 'WECHAT_CLOSED' })
})
