import { randomBytes } from 'node:crypto'
import { once } from 'node:events'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'
import t, { type Test } from 'tap'
import { createRedis } from '@weapp/common'
import { redisTargets } from '@weapp/test-kit'
import {
  createAccessTokens, MemoryAccessTokenProvider, RedisAccessTokenProvider, WechatClient,
  type AccessTokenProvider, type CreateAccessTokensOptions
} from '../src/index.js'

// createAccessTokens(): the one place that picks the token cache (memory or Redis) and the token
// endpoint (stable_token or token), against a real HTTP server standing in for WeChat.

const SECRET = 'the-app-secret-0123456789abcdef'

interface Wechat { url: string, calls: string[], answer: (path: string, n: number) => Record<string, unknown> }

/** Answers both token endpoints; `answer` may be replaced by a test. */
async function startWechat (t: Test, expiresIn = 7200): Promise<Wechat> {
  const wechat: Wechat = {
    url: '',
    calls: [],
    answer: (path, n) => ({ access_token: `${path === '/cgi-bin/token' ? 'classic' : 'stable'}-${n}`, expires_in: expiresIn })
  }
  const server = createServer((req, res) => {
    req.resume()
    req.on('end', () => {
      const path = new URL(req.url ?? '/', 'http://x').pathname
      wechat.calls.push(`${req.method ?? ''} ${path}`)
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(wechat.answer(path, wechat.calls.length)))
    })
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  t.teardown(async () => {
    server.closeAllConnections()
    await new Promise((resolve) => server.close(resolve))
  })
  wechat.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  return wechat
}

function wechatClient (t: Test, wechat: Wechat, appId = 'wx1111111111111111'): WechatClient {
  const client = new WechatClient({ appId, appSecret: SECRET, baseUrl: wechat.url, retries: 0 })
  t.teardown(() => client.close())
  return client
}

function tokens (t: Test, options: CreateAccessTokensOptions): AccessTokenProvider {
  const provider = createAccessTokens(options)
  t.teardown(() => provider.close())
  return provider
}

t.test('no Redis: the in-process provider; stable_token unless classic is asked for', async (t) => {
  const wechat = await startWechat(t)
  const fetches: string[] = []
  const stable = tokens(t, { client: wechatClient(t, wechat), onRefreshError: () => {}, onFetch: (r) => { fetches.push(r) } })
  t.type(stable, MemoryAccessTokenProvider)
  t.equal(await stable.getToken(), 'stable-1')
  t.equal(await stable.getToken(), 'stable-1', 'cached')
  const classic = tokens(t, { client: wechatClient(t, wechat), source: 'classic', redis: null, onRefreshError: () => {} })
  t.type(classic, MemoryAccessTokenProvider)
  t.equal(await classic.getToken(), 'classic-2')
  t.same(wechat.calls, ['POST /cgi-bin/stable_token', 'GET /cgi-bin/token'])
  t.same(fetches, ['ok'])
})

t.test('a failed background refresh reaches onRefreshError once, and onFetch counts it', async (t) => {
  // expires_in 2 s: the token is due for refresh after 1 s (half its life), still valid until 2 s.
  const wechat = await startWechat(t, 2)
  const errors: unknown[] = []
  const fetches: string[] = []
  const provider = tokens(t, { client: wechatClient(t, wechat), onRefreshError: (err) => { errors.push(err) }, onFetch: (r) => { fetches.push(r) } })
  t.equal(await provider.getToken(), 'stable-1')
  wechat.answer = () => ({ errcode: 40013, errmsg: `invalid appid, secret ${SECRET}` })
  await sleep(1100)
  t.equal(await provider.getToken(), 'stable-1', 'the current token is still handed out')
  await provider.getToken()
  for (let i = 0; i < 50 && errors.length === 0; i++) await sleep(20)
  t.equal(errors.length, 1, 'one refresh, one report')
  t.match(errors[0], { code: 'WECHAT_CREDENTIALS_INVALID', errcode: 40013, outcome: 'answered' })
  t.notMatch(JSON.stringify(errors[0]) + String((errors[0] as Error).message), SECRET, 'the AppSecret is masked')
  t.same(fetches, ['ok', 'error'])
})

// On one server, behind Sentinel and on a three-master Cluster.
for (const target of redisTargets(t)) {
  t.test(`with Redis (${target.name})`, { skip: target.skip }, async (t) => {
    const topology = await target.topology()

    t.test('the shared provider, under wx:token:{<appid>}, for either source', async (t) => {
      const redis = createRedis(topology, { maxRetriesPerRequest: 1 })
      t.teardown(async () => { await redis.quit(); redis.disconnect() })
      const wechat = await startWechat(t)
      for (const source of ['stable', 'classic'] as const) {
        const appId = `wxtest${randomBytes(6).toString('hex')}`
        t.teardown(async () => { await redis.del(`wx:token:{${appId}}`, `wx:token:{${appId}}:lock`) })
        const provider = tokens(t, { client: wechatClient(t, wechat, appId), source, redis, onRefreshError: () => {} })
        t.type(provider, RedisAccessTokenProvider)
        const token = await provider.getToken()
        t.match(token, source === 'stable' ? /^stable-/ : /^classic-/)
        t.equal(JSON.parse(await redis.get(`wx:token:{${appId}}`) ?? '{}').token, token, `${source}: stored for every process`)
      }
      t.same(wechat.calls, ['POST /cgi-bin/stable_token', 'GET /cgi-bin/token'])
    })

    t.test('a failed refresh-ahead reaches onRefreshError', async (t) => {
      const redis = createRedis(topology, { maxRetriesPerRequest: 1 })
      t.teardown(async () => { await redis.quit(); redis.disconnect() })
      const appId = `wxtest${randomBytes(6).toString('hex')}`
      t.teardown(async () => { await redis.del(`wx:token:{${appId}}`, `wx:token:{${appId}}:lock`) })
      const wechat = await startWechat(t)
      wechat.answer = () => ({ errcode: -1, errmsg: 'system error' })
      const errors: unknown[] = []
      const provider = tokens(t, { client: wechatClient(t, wechat, appId), redis, onRefreshError: (err) => { errors.push(err) } })
      // A token another process stored, due for refresh but still valid.
      await redis.set(`wx:token:{${appId}}`, JSON.stringify({ token: 'T-shared', expiresAt: Date.now() + 600_000, refreshAt: Date.now() - 1 }))
      t.equal(await provider.getToken(), 'T-shared')
      for (let i = 0; i < 50 && errors.length === 0; i++) await sleep(20)
      t.equal(errors.length, 1)
      t.match(errors[0], { code: 'WECHAT_BUSY', outcome: 'answered' })
    })
  })
}

t.test('bad options are refused at once', async (t) => {
  const wechat = await startWechat(t)
  const client = wechatClient(t, wechat)
  const bad: unknown[] = [
    undefined,
    { client, onRefreshError: () => {}, source: 'forced' },
    { client },
    { client: {}, onRefreshError: () => {} },
    { client, onRefreshError: () => {}, onFetch: 'yes' }
  ]
  for (const options of bad) {
    t.throws(() => createAccessTokens(options as CreateAccessTokensOptions), { code: 'WECHAT_OPTIONS_INVALID' }, JSON.stringify(options))
  }
  t.same(wechat.calls, [])
})
