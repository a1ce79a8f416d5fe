import { once } from 'node:events'
import t from 'tap'
import { Client } from 'undici'
import { BUFFERED_RESPONSE_LIMIT } from '../src/proxy/forward.js'
import { bearer, startHarness } from './fixtures/gateway.js'

const BIG = BUFFERED_RESPONSE_LIMIT * 3 + 17

const h = await startHarness({
  env: { UPSTREAM_TIMEOUT_MS: '300' },
  upstream: {
    routes: (app, sleep) => {
      app.get('/api/me/slow', async () => {
        await sleep(5000)
        return { late: true }
      })
      app.get('/api/me/big', async (_req, reply) => await reply.type('application/octet-stream').send(Buffer.alloc(BIG, 7)))
      app.get('/api/me/stream', (_req, reply) => {
        // chunked, no content-length, with a pause between the chunks (like an event stream)
        reply.hijack()
        reply.raw.writeHead(200, { 'content-type': 'text/event-stream', 'x-from-upstream': 'yes' })
        reply.raw.write('data: one\n\n')
        setTimeout(() => { reply.raw.end('data: two\n\n') }, 500)
      })
      app.get('/api/me/teapot', async (_req, reply) => await reply.code(418).header('set-cookie', ['a=1', 'b=2']).send({ short: 'and stout' }))
      app.get('/api/me/empty', async (_req, reply) => await reply.code(204).send())
      app.get('/api/me/upstream-502', async (_req, reply) => await reply.code(502).send({ statusCode: 502, code: 'SESSION_WECHAT_DOWN', error: 'Bad Gateway', message: 'WeChat did not answer' }))
    }
  }
})
t.teardown(h.close)

t.test('upstream statuses, bodies and multi-valued headers pass through', async (t) => {
  const teapot = await h.call('/api/me/teapot', { headers: bearer() })
  t.equal(teapot.status, 418)
  t.same(teapot.json(), { short: 'and stout' })
  t.same(teapot.headers['set-cookie'], ['a=1', 'b=2'])
  const empty = await h.call('/api/me/empty', { headers: bearer() })
  t.equal(empty.status, 204)
  t.equal(empty.text, '')
  const upstream502 = await h.call('/api/me/upstream-502', { headers: bearer() })
  t.equal(upstream502.status, 502, 'an upstream\'s own error is its answer, not a gateway error')
  t.equal(upstream502.json().code, 'SESSION_WECHAT_DOWN')
})

t.test('large bodies are streamed through intact', async (t) => {
  const res = await h.call('/api/me/big', { headers: bearer() })
  t.equal(res.status, 200)
  t.equal(res.headers['content-length'], String(BIG))
  const client = new Client(h.url)
  t.teardown(async () => { await client.close() })
  const { body } = await client.request({ path: '/api/me/big', method: 'GET', headers: bearer() })
  const bytes = Buffer.from(await body.arrayBuffer())
  t.equal(bytes.length, BIG)
  t.ok(bytes.every((b) => b === 7), 'every byte')
})

t.test('chunked responses are streamed as they come', async (t) => {
  const client = new Client(h.url)
  t.teardown(async () => { await client.close() })
  const started = Date.now()
  const { statusCode, headers, body } = await client.request({ path: '/api/me/stream', method: 'GET', headers: bearer() })
  t.equal(statusCode, 200)
  t.equal(headers['content-type'], 'text/event-stream')
  t.equal(headers['x-from-upstream'], 'yes')
  const [first] = await once(body, 'data') as [Buffer]
  t.ok(Date.now() - started < 450, 'the first chunk arrived before the upstream finished')
  t.equal(first.toString(), 'data: one\n\n')
  let rest = ''
  for await (const chunk of body) rest += String(chunk)
  t.equal(rest, 'data: two\n\n')
})

t.test('a slow upstream is a 504 GATEWAY_UPSTREAM_TIMEOUT', async (t) => {
  const res = await h.call('/api/me/slow', { headers: bearer() })
  t.equal(res.status, 504)
  t.same(res.json(), { statusCode: 504, code: 'GATEWAY_UPSTREAM_TIMEOUT', error: 'Gateway Timeout', message: 'Upstream session did not answer in time' })
  t.match(res.headers['x-request-id'], /./)
  const metrics = (await h.call('/metrics')).text
  t.match(metrics, /gateway_upstream_errors_total\{upstream="session",kind="timeout"\} 1/)
})

t.test('an upstream that is down is a 502 GATEWAY_UPSTREAM_UNAVAILABLE', async (t) => {
  const down = await startHarness()
  t.teardown(down.close)
  await down.upstream.close()
  for (const [path, init] of [['/api/login', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' }], ['/weapp/login', {}], ['/me', {}]] as const) {
    const res = await down.call(path, init)
    t.equal(res.status, 502, path)
    t.same(res.json(), { statusCode: 502, code: 'GATEWAY_UPSTREAM_UNAVAILABLE', error: 'Bad Gateway', message: 'Upstream session is unavailable' })
  }
  const metrics = (await down.call('/metrics')).text
  t.match(metrics, /gateway_upstream_errors_total\{upstream="session",kind="unavailable"\} 3/)
  t.match(metrics, /gateway_http_requests_total\{group="session",status_class="5xx"\} 3/)
})

t.test('once shutdown has begun, requests still arriving get 503 GATEWAY_CLOSING and in-flight ones finish', async (t) => {
  const closing = await startHarness({
    upstream: {
      routes: (app, sleep) => {
        app.get('/api/me/slow', async () => {
          await sleep(300)
          return { finished: true }
        })
      }
    }
  })
  t.teardown(async () => { await closing.upstream.close(); await closing.cs.close(); await closing.realtime.close() })
  // One connection, two requests pipelined on it: the second is read only after the first is answered.
  const client = new Client(closing.url, { pipelining: 2 })
  t.teardown(async () => { await client.destroy() })
  const slow = client.request({ path: '/api/me/slow', method: 'GET', headers: bearer(), blocking: false })
  await new Promise((resolve) => setTimeout(resolve, 50))
  const closed = closing.app.close()
  const next = client.request({ path: '/api/me', method: 'GET', headers: bearer() })
  const first = await slow
  t.equal(first.statusCode, 200, 'the in-flight request finished')
  t.same(await first.body.json(), { finished: true })
  const second = await next
  t.equal(second.statusCode, 503)
  t.same(await second.body.json(), { statusCode: 503, code: 'GATEWAY_CLOSING', error: 'Service Unavailable', message: 'The gateway is shutting down' })
  await closed
})
