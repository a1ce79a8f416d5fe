import t from 'tap'
import { WAFER_ID, WAFER_SKEY, bearer, startHarness } from './fixtures/gateway.js'

t.test('pipelined requests each get their own answer', async (t) => {
  const h = await startHarness({ env: { UPSTREAM_CONNECTIONS: '2', UPSTREAM_PIPELINING: '8' } })
  t.teardown(h.close)
  const paths = Array.from({ length: 60 }, (_, i) => `/api/me/item-${i}?n=${i}`)
  const results = await Promise.all(paths.map(async (path) => await h.call(path, { headers: bearer() })))
  results.forEach((res, i) => {
    t.equal(res.status, 200)
    t.equal(res.json().url, paths[i], `answer ${i} is for request ${i}`)
  })
})

t.test('a slow request that may not be pipelined does not hold up fast ones', async (t) => {
  const h = await startHarness({
    env: { UPSTREAM_CONNECTIONS: '2', UPSTREAM_PIPELINING: '8' },
    upstream: {
      routes: (app, sleep) => {
        app.get('/login', async () => {
          await sleep(1500)
          return { loggedIn: true }
        })
      }
    }
  })
  t.teardown(h.close)
  await h.call('/me', { headers: { 'x-wx-id': WAFER_ID, 'x-wx-skey': WAFER_SKEY } }) // resolve and cache first
  const slow = h.call('/login', { headers: { 'x-wx-code': 'c' } })
  await new Promise((resolve) => setTimeout(resolve, 50))
  const started = Date.now()
  const fast = await Promise.all(Array.from({ length: 10 }, async () => await h.call('/me', { headers: { 'x-wx-id': WAFER_ID, 'x-wx-skey': WAFER_SKEY } })))
  const elapsed = Date.now() - started
  t.same(fast.map((r) => r.status), Array(10).fill(200))
  t.ok(elapsed < 1000, `fast requests answered in ${elapsed} ms while the slow one ran`)
  t.same((await slow).json(), { loggedIn: true })
})
