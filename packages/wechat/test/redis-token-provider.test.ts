import { randomBytes } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import t, { type Test } from 'tap'
import { Redis } from 'ioredis'
import { createRedis, type RedisClient, type RedisTopology } from '@weapp/common'
import { ManualClock, flushRedisScripts, redisTargets, waitFor } from '@weapp/test-kit'
import { errorFromErrcode, RedisAccessTokenProvider, type FetchedAccessToken, type RedisAccessTokenProviderOptions } from '../src/index.js'

/** One client per simulated process (of any topology), counting the commands the provider sends. */
function connect (t: Test, topology: RedisTopology): { redis: RedisClient, counts: Record<string, number> } {
  const raw = createRedis(topology, { maxRetriesPerRequest: 1 })
  // QUIT leaves a Sentinel client's failover-detector connections open (ioredis 5): disconnect too.
  t.teardown(async () => { await raw.quit(); raw.disconnect() })
  const counts: Record<string, number> = {}
  const redis = new Proxy(raw, {
    get (target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver)
      if (typeof prop === 'string' && ['get', 'set', 'evalsha', 'eval'].includes(prop)) {
        return (...args: unknown[]) => { counts[prop] = (counts[prop] ?? 0) + 1; return (value as (...a: unknown[]) => unknown).apply(target, args) }
      }
      return value
    }
  })
  return { redis, counts }
}

/** A random AppID per test keeps keys apart; the keys are removed afterwards. */
function appIdFor (t: Test, admin: RedisClient): string {
  const appId = `wxtest${randomBytes(6).toString('hex')}`
  t.teardown(async () => { await admin.del(`wx:token:{${appId}}`, `wx:token:{${appId}}:lock`) })
  return appId
}

/** A fetch shared by all "processes": counts calls, answers T1, T2, …; can be held open. */
function sharedFetch (delayMs = 50, expiresIn = 7200) {
  let n = 0
  let gate: Promise<void> | null = null
  let open: (() => void) | null = null
  return {
    fetch: async (): Promise<FetchedAccessToken> => {
      const me = ++n
      if (gate !== null) await gate
      await sleep(delayMs)
      return { accessToken: `T${me}`, expiresIn }
    },
    get calls () { return n },
    hold () { gate = new Promise((resolve) => { open = resolve }) },
    release () { gate = null; open?.() }
  }
}

function provider (t: Test, options: RedisAccessTokenProviderOptions): RedisAccessTokenProvider {
  const p = new RedisAccessTokenProvider({ pollIntervalMs: 20, ...options })
  t.teardown(() => p.close())
  return p
}

/** Two processes (a client each) sharing one WeChat stand-in (`sharedFetch(delayMs)`) for one app id. */
function twoProcesses (t: Test, topology: RedisTopology, delayMs: number, options: Partial<RedisAccessTokenProviderOptions> = {}) {
  const a = connect(t, topology)
  const b = connect(t, topology)
  const appId = appIdFor(t, a.redis)
  const f = sharedFetch(delayMs)
  const pa = provider(t, { redis: a.redis, appId, fetch: f.fetch, ...options })
  const pb = provider(t, { redis: b.redis, appId, fetch: f.fetch, ...options })
  return { a, b, appId, f, pa, pb }
}

const stale = (): Error => errorFromErrcode(40001, 'invalid credential, access_token is invalid or not latest', '/cgi-bin/message/custom/send')

t.test('options are validated at construction', async (t) => {
  const fetch = sharedFetch().fetch
  t.throws(() => new RedisAccessTokenProvider(undefined as never), { code: 'WECHAT_OPTIONS_INVALID' })
  t.throws(() => new RedisAccessTokenProvider({ redis: {} as never, appId: 'wx', fetch }), { code: 'WECHAT_OPTIONS_INVALID' })
  const redis = new Redis({ lazyConnect: true })
  t.throws(() => new RedisAccessTokenProvider({ redis, appId: '', fetch }), { code: 'WECHAT_OPTIONS_INVALID' })
  t.throws(() => new RedisAccessTokenProvider({ redis, appId: 'wx', fetch: undefined as never }), { code: 'WECHAT_OPTIONS_INVALID' })
  t.throws(() => new RedisAccessTokenProvider({ redis, appId: 'wx', fetch, lockTtlMs: 0 }), { code: 'WECHAT_OPTIONS_INVALID' })
  t.throws(() => new RedisAccessTokenProvider({ redis, appId: 'wx', fetch, waitTimeoutMs: -1 }), { code: 'WECHAT_OPTIONS_INVALID' })
  t.throws(() => new RedisAccessTokenProvider({ redis, appId: 'wx', fetch, refreshAheadMs: 1.5 }), { code: 'WECHAT_OPTIONS_INVALID' })
  const p = new RedisAccessTokenProvider({ redis, appId: 'wxabc', fetch })
  t.equal(p.key, 'wx:token:{wxabc}')
  t.equal(p.lockKey, 'wx:token:{wxabc}:lock')
  redis.disconnect()
})

// The same tests on one server, behind Sentinel and on a three-master Cluster.
for (const target of redisTargets(t)) {
  t.test(`Redis token provider (${target.name})`, { skip: target.skip }, async (t) => {
    const topology = await target.topology()

    t.test('two processes × 50 concurrent getToken on a cold cache: exactly one fetch', async (t) => {
      const { a, b, appId, f, pa, pb } = twoProcesses(t, topology, 100)
      const tokens = await Promise.all([
        ...Array.from({ length: 50 }, () => pa.getToken()),
        ...Array.from({ length: 50 }, () => pb.getToken())
      ])
      t.equal(f.calls, 1)
      t.same(new Set(tokens), new Set(['T1']))

      const stored = JSON.parse((await a.redis.get(`wx:token:{${appId}}`))!)
      t.equal(stored.token, 'T1')
      t.type(stored.expiresAt, 'number')
      const pttl = await a.redis.pttl(`wx:token:{${appId}}`)
      t.ok(pttl > 7_100_000 && pttl <= 7_200_000, `PX TTL follows expires_in (${pttl})`)
      t.equal(await a.redis.exists(`wx:token:{${appId}}:lock`), 0, 'the lock was released')

      // Single flight inside each process too: not one Redis round trip per caller.
      for (const [name, counts] of [['a', a.counts], ['b', b.counts]] as const) {
        t.ok((counts.get ?? 0) < 20, `${name}: ${counts.get} GETs for 50 callers`)
        t.ok((counts.set ?? 0) < 20, `${name}: ${counts.set} lock attempts for 50 callers`)
      }
      t.equal(await pa.getToken(), 'T1')
      t.equal(f.calls, 1)
    })

    t.test('invalidate is compare-and-delete: a newer token is never thrown away', async (t) => {
      const { a, appId, f, pa, pb } = twoProcesses(t, topology, 10)
      t.equal(await pa.getToken(), 'T1')
      await pb.invalidate('T0')
      t.equal(JSON.parse((await a.redis.get(`wx:token:{${appId}}`))!).token, 'T1', 'another token name deletes nothing')

      await pa.invalidate('T1')
      t.equal(await a.redis.get(`wx:token:{${appId}}`), null, 'the named token is deleted')
      t.equal(await pb.getToken(), 'T2')
      await pa.invalidate('T1') // late: someone already refreshed
      t.equal(JSON.parse((await a.redis.get(`wx:token:{${appId}}`))!).token, 'T2', 'the newer token survives a stale invalidate')
      t.equal(await pa.getToken(), 'T2')
      t.equal(f.calls, 2)
    })

    t.test('withToken + 40001 in two processes: exactly one refresh and one retry each', async (t) => {
      const { f, pa, pb } = twoProcesses(t, topology, 50)
      t.equal(await pa.getToken(), 'T1')
      t.equal(await pb.getToken(), 'T1')
      const used: Record<string, string[]> = { a: [], b: [] }
      const send = (who: 'a' | 'b') => async (token: string): Promise<string> => {
        used[who]!.push(token)
        await sleep(5)
        if (token === 'T1') throw stale()
        return `${who} sent with ${token}`
      }
      const results = await Promise.all([pa.withToken(send('a')), pb.withToken(send('b')), pa.withToken(send('a'))])
      t.same(results, ['a sent with T2', 'b sent with T2', 'a sent with T2'])
      t.equal(f.calls, 2, 'one refresh for everybody')
      t.same(used, { a: ['T1', 'T1', 'T2', 'T2'], b: ['T1', 'T2'] }, 'each call retried exactly once')

      let calls = 0
      await t.rejects(pb.withToken(async () => { calls++; throw stale() }), { code: 'WECHAT_TOKEN_INVALID', errcode: 40001 })
      t.equal(calls, 2, 'a second stale-token error propagates')
      t.equal(f.calls, 3)
    })

    t.test('a dead lock holder: the lock expires and another process takes over', async (t) => {
      const a = connect(t, topology)
      const appId = appIdFor(t, a.redis)
      const lockKey = `wx:token:{${appId}}:lock`
      // A process that took the lock and died without a word.
      await a.redis.set(lockKey, 'ghost', 'PX', 300)
      const f = sharedFetch(10)
      const p = provider(t, { redis: a.redis, appId, fetch: f.fetch, lockTtlMs: 300 })
      const started = Date.now()
      t.equal(await p.getToken(), 'T1')
      t.ok(Date.now() - started >= 200, `waited for the lock to expire (${Date.now() - started} ms)`)
      t.equal(f.calls, 1)
    })

    t.test('a holder stuck in its fetch loses the lock; its late token does not overwrite', async (t) => {
      const a = connect(t, topology)
      const b = connect(t, topology)
      const appId = appIdFor(t, a.redis)
      let releaseA: (() => void) | null = null
      const pa = provider(t, {
        redis: a.redis,
        appId,
        lockTtlMs: 200,
        fetch: async () => { await new Promise<void>((resolve) => { releaseA = resolve }); return { accessToken: 'A-late', expiresIn: 7200 } }
      })
      const pb = provider(t, { redis: b.redis, appId, lockTtlMs: 200, fetch: async () => ({ accessToken: 'B-fresh', expiresIn: 7200 }) })
      const aToken = pa.getToken()
      await waitFor(async () => releaseA !== null, { timeoutMs: 3000, what: 'process A inside its fetch' })
      t.equal(await pb.getToken(), 'B-fresh', 'B took over once A\'s lock expired')
      releaseA!()
      t.equal(await aToken, 'A-late', 'A\'s own callers still get a working token')
      t.equal(JSON.parse((await a.redis.get(`wx:token:{${appId}}`))!).token, 'B-fresh', 'A lost the lock, so it did not overwrite')
      t.equal(await pa.getToken(), 'B-fresh')
    })

    t.test('waiters give up after waitTimeoutMs', async (t) => {
      const a = connect(t, topology)
      const appId = appIdFor(t, a.redis)
      await a.redis.set(`wx:token:{${appId}}:lock`, 'busy', 'PX', 10_000)
      const f = sharedFetch()
      const p = provider(t, { redis: a.redis, appId, fetch: f.fetch, waitTimeoutMs: 150 })
      await t.rejects(p.getToken(), { code: 'WECHAT_TOKEN_WAIT_TIMEOUT' })
      t.equal(f.calls, 0)
    })

    t.test('refresh ahead: callers keep the current token while one process refreshes', async (t) => {
      const clock = new ManualClock(1_000_000_000)
      const { a, appId, f, pa, pb } = twoProcesses(t, topology, 10, { now: clock.nowMs, refreshAheadMs: 300_000 })
      t.equal(await pa.getToken(), 'T1')
      clock.advance(7200_000 - 200_000) // inside the window, still valid
      f.hold()
      const during = await Promise.all([
        ...Array.from({ length: 20 }, () => pa.getToken()),
        ...Array.from({ length: 20 }, () => pb.getToken())
      ])
      t.same(new Set(during), new Set(['T1']), 'nobody waits for the refresh')
      await waitFor(async () => f.calls >= 1, { timeoutMs: 3000, what: 'the background fetch' })
      await sleep(50)
      t.equal(f.calls, 2, 'one background fetch across both processes')
      f.release()
      await waitFor(async () => JSON.parse((await a.redis.get(`wx:token:{${appId}}`)) ?? '{}').token === 'T2', { timeoutMs: 3000, what: 'T2 stored in Redis' })
      t.equal(await pa.getToken(), 'T2')
      t.equal(await pb.getToken(), 'T2')
      t.equal(f.calls, 2)
    })

    t.test('a token written as plain { token, expiresAt } is understood', async (t) => {
      const a = connect(t, topology)
      const appId = appIdFor(t, a.redis)
      await a.redis.set(`wx:token:{${appId}}`, JSON.stringify({ token: 'X', expiresAt: Date.now() + 3_600_000 }), 'PX', 3_600_000)
      const f = sharedFetch()
      const p = provider(t, { redis: a.redis, appId, fetch: f.fetch })
      t.equal(await p.getToken(), 'X')
      await a.redis.set(`wx:token:{${appId}}`, 'garbage', 'PX', 3_600_000)
      t.equal(await p.getToken(), 'T1', 'an unreadable value is replaced')
      t.equal(f.calls, 1)
    })

    t.test('close stops waiters at once', async (t) => {
      const a = connect(t, topology)
      const appId = appIdFor(t, a.redis)
      await a.redis.set(`wx:token:{${appId}}:lock`, 'busy', 'PX', 10_000)
      const p = new RedisAccessTokenProvider({ redis: a.redis, appId, fetch: sharedFetch().fetch })
      const waiting = p.getToken()
      await sleep(30)
      const started = Date.now()
      await p.close()
      await t.rejects(waiting, { code: 'WECHAT_CLOSED' })
      t.ok(Date.now() - started < 1000)
      await t.rejects(p.getToken(), { code: 'WECHAT_CLOSED' })
      t.equal(a.redis.status, 'ready', 'the Redis client handed in stays open')
    })

    t.test('the token scripts still run after SCRIPT FLUSH (ioredis sends them again on NOSCRIPT)', async (t) => {
      const a = connect(t, topology)
      // Commit, invalidate and release-lock once each; the second pass runs on the same connection after
      // the server forgot the scripts.
      const pass = async (): Promise<unknown[]> => {
        const appId = appIdFor(t, a.redis)
        let down = false
        const p = provider(t, {
          redis: a.redis,
          appId,
          fetch: async () => {
            if (down) throw new Error('WeChat unreachable')
            return { accessToken: 'T1', expiresIn: 7200 }
          }
        })
        const seen: unknown[] = [await p.getToken()]
        seen.push(JSON.parse((await a.redis.get(`wx:token:{${appId}}`))!).token)
        await p.invalidate('T1')
        seen.push(await a.redis.get(`wx:token:{${appId}}`))
        down = true
        await t.rejects(p.getToken(), /WeChat unreachable/)
        seen.push(await a.redis.exists(`wx:token:{${appId}}:lock`))
        return seen
      }
      const before = await pass()
      t.same(before, ['T1', 'T1', null, 0], 'stored under the lock, invalidated, lock released after a failed fetch')
      await flushRedisScripts(a.redis)
      t.same(await pass(), before)
    })

    // The commit script takes the token and its lock: the app id is their hash tag, so one slot.
    t.test('the token and its lock hash to one Cluster slot', { skip: target.name === 'cluster' ? false : 'a Cluster has slots' }, async (t) => {
      const a = connect(t, topology)
      const p = provider(t, { redis: a.redis, appId: 'wx0123456789abcdef', fetch: sharedFetch().fetch })
      t.equal(await a.redis.cluster('KEYSLOT', p.key), await a.redis.cluster('KEYSLOT', p.lockKey), `${p.key}, ${p.lockKey}`)
    })
  })
}
