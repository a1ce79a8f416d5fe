import t from 'tap'
import { bearer, startHarness } from './fixtures/gateway.js'

t.test('/healthz answers for the gateway itself', async (t) => {
  const h = await startHarness()
  t.teardown(h.close)
  const res = await h.call('/healthz')
  t.equal(res.status, 200)
  t.same(res.json(), { status: 'ok' })
  await h.upstream.close()
  t.equal((await h.call('/healthz')).status, 200, 'whatever the upstreams do')
})

t.test('/readyz checks every upstream\'s /healthz', async (t) => {
  const h = await startHarness()
  t.teardown(h.close)
  const up = await h.call('/readyz')
  t.equal(up.status, 200)
  t.same(up.json(), { status: 'ok', upstreams: { session: 'up', 'cs-messaging': 'up', realtime: 'up' } })

  h.upstream.healthy = false
  const unhealthy = await h.call('/readyz')
  t.equal(unhealthy.status, 503)
  t.same(unhealthy.json(), { status: 'unavailable', down: ['session'], upstreams: { session: 'down', 'cs-messaging': 'up', realtime: 'up' } })
  h.upstream.healthy = true
  t.equal((await h.call('/readyz')).status, 200, 'back up')

  await h.upstream.close()
  const down = await h.call('/readyz')
  t.equal(down.status, 503)
  t.same(down.json(), { status: 'unavailable', down: ['session'], upstreams: { session: 'down', 'cs-messaging': 'up', realtime: 'up' } })
})

t.test('/readyz does not wait long for a hanging upstream', async (t) => {
  const h = await startHarness({ env: { UPSTREAM_TIMEOUT_MS: '300' } })
  t.teardown(h.close)
  h.upstream.healthHangs = true
  const started = Date.now()
  const res = await h.call('/readyz')
  t.equal(res.status, 503)
  t.ok(Date.now() - started < 1500, `answered in ${Date.now() - started} ms`)
})

t.test('/metrics: Prometheus text with the gateway\'s metrics and the process defaults', async (t) => {
  const h = await startHarness()
  t.teardown(h.close)
  await h.call('/api/me', { headers: bearer() })
  await h.call('/api/me', { headers: bearer() })
  await h.call('/api/me')
  await h.call('/nowhere')
  const res = await h.call('/metrics')
  t.equal(res.status, 200)
  t.match(res.headers['content-type'], /^text\/plain; version=0\.0\.4/)
  const text = res.text
  t.match(text, /# TYPE gateway_http_requests_total counter/)
  t.match(text, /gateway_http_requests_total\{group="session",status_class="2xx"\} 2\n/)
  t.match(text, /gateway_http_requests_total\{group="session",status_class="4xx"\} 1\n/)
  t.match(text, /gateway_http_requests_total\{group="unmatched",status_class="4xx"\} 1\n/)
  t.match(text, /# TYPE gateway_http_request_duration_seconds histogram/)
  t.match(text, /gateway_http_request_duration_seconds_bucket\{le="\+Inf",group="session",status_class="2xx"\} 2\n/)
  t.match(text, /gateway_http_request_duration_seconds_count\{group="session",status_class="2xx"\} 2\n/)
  t.match(text, /gateway_auth_cache_hits_total 1\n/)
  t.match(text, /gateway_auth_cache_misses_total 1\n/)
  t.match(text, /gateway_auth_cache_entries 1\n/)
  t.match(text, /gateway_auth_resolve_duration_seconds_count\{outcome="ok"\} 1\n/)
  t.match(text, /# TYPE gateway_upstream_errors_total counter/)
  t.match(text, /process_cpu_user_seconds_total/)
  t.match(text, /nodejs_eventloop_lag_seconds/)
  const again = (await h.call('/metrics')).text
  t.match(again, /gateway_http_requests_total\{group="gateway",status_class="2xx"\} 1\n/, 'the scrape itself is counted')
})

t.test('/metrics with METRICS_TOKEN needs the bearer token', async (t) => {
  const token = 'metrics-token-0123456789'
  const h = await startHarness({ env: { METRICS_TOKEN: token } })
  t.teardown(h.close)
  for (const headers of [{}, { authorization: 'Bearer wrong' }, { authorization: token }, { authorization: `Bearer ${token}x` }] as Array<Record<string, string>>) {
    const res = await h.call('/metrics', { headers })
    t.equal(res.status, 401, JSON.stringify(headers))
    t.same(res.json(), { statusCode: 401, code: 'GATEWAY_METRICS_UNAUTHORIZED', error: 'Unauthorized', message: 'Metrics need Authorization: Bearer <METRICS_TOKEN>' })
  }
  const ok = await h.call('/metrics', { headers: { authorization: `Bearer ${token}` } })
  t.equal(ok.status, 200)
  t.match(ok.text, /gateway_http_requests_total/)
  t.equal((await h.call('/healthz')).status, 200, 'health stays open')
})

t.test('/metrics is closed without METRICS_TOKEN (403), whatever NODE_ENV says, unless METRICS_PUBLIC=true', async (t) => {
  const nodeEnv = process.env.NODE_ENV
  process.env.NODE_ENV = 'development'
  t.teardown(() => { if (nodeEnv === undefined) delete process.env.NODE_ENV; else process.env.NODE_ENV = nodeEnv })
  const closed = await startHarness({ env: { METRICS_PUBLIC: 'false' } })
  t.teardown(closed.close)
  for (const headers of [{}, { authorization: 'Bearer anything-at-all-0123456789' }] as Array<Record<string, string>>) {
    const res = await closed.call('/metrics', { headers })
    t.equal(res.status, 403)
    t.same(res.json(), { statusCode: 403, code: 'GATEWAY_METRICS_CLOSED', error: 'Forbidden', message: 'Metrics are closed: the gateway has no METRICS_TOKEN' })
    t.notMatch(res.text, /gateway_http_requests_total/)
  }

  const open = await startHarness({ env: { METRICS_PUBLIC: 'true' } })
  t.teardown(open.close)
  t.equal((await open.call('/metrics')).status, 200, 'the development opt-in')

  const token = 'metrics-token-0123456789'
  const both = await startHarness({ env: { METRICS_PUBLIC: 'true', METRICS_TOKEN: token } })
  t.teardown(both.close)
  t.equal((await both.call('/metrics')).status, 401, 'a token, when set, is always needed')
  t.equal((await both.call('/metrics', { headers: { authorization: `Bearer ${token}` } })).status, 200)
})

t.test('/readyz detail (which upstream, Redis) is for operators: the token, or a direct local caller', async (t) => {
  const token = 'metrics-token-0123456789'
  const h = await startHarness({ env: { METRICS_PUBLIC: 'false', METRICS_TOKEN: token } })
  t.teardown(h.close)
  const detail = { status: 'ok', upstreams: { session: 'up', 'cs-messaging': 'up', realtime: 'up' } }
  t.same((await h.call('/readyz')).json(), detail, 'direct from loopback (a health check on the host or in the container)')
  // What a proxy on the same host relays: public callers, status only.
  for (const headers of [{ 'x-forwarded-for': '203.0.113.9' }, { forwarded: 'for=203.0.113.9' }, { 'x-real-ip': '203.0.113.9' }, { 'x-forwarded-for': '203.0.113.9', authorization: 'Bearer wrong' }] as Array<Record<string, string>>) {
    const res = await h.call('/readyz', { headers })
    t.equal(res.status, 200)
    t.same(res.json(), { status: 'ok' }, JSON.stringify(headers))
  }
  t.same((await h.call('/readyz', { headers: { 'x-forwarded-for': '203.0.113.9', authorization: `Bearer ${token}` } })).json(), detail, 'the metrics token')

  await h.upstream.close()
  const down = await h.call('/readyz', { headers: { 'x-forwarded-for': '203.0.113.9' } })
  t.equal(down.status, 503)
  t.same(down.json(), { status: 'unavailable' }, 'not which upstream')
  t.same((await h.call('/readyz')).json(), { status: 'unavailable', down: ['session'], upstreams: { session: 'down', 'cs-messaging': 'up', realtime: 'up' } })

  const open = await startHarness({ env: { METRICS_PUBLIC: 'true' } })
  t.teardown(open.close)
  t.same((await open.call('/readyz', { headers: { 'x-forwarded-for': '203.0.113.9' } })).json(), detail, 'METRICS_PUBLIC opens the detail too')
})
