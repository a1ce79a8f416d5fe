import t from 'tap'
import { Writable } from 'node:stream'
import Fastify from 'fastify'
import createError from '@fastify/error'
import { GENERIC_5XX_MESSAGES, exposeMessages, installErrorHandling, serverOptions } from '@weapp/common'

const Teapot = createError('TEST_TEAPOT', 'I am a teapot: %s', 418)
const Gateway = createError('TEST_UPSTREAM', 'upstream said no', 502)
const Busy = createError<[string]>('TEST_BUSY', 'Upstream busy: %s', 503)
const Slow = createError<[string]>('TEST_SLOW', 'Upstream did not answer: %s', 504)
const Disabled = createError('TEST_DISABLED', 'The feature is off: set FEATURE_KEY', 503)
exposeMessages(Disabled)

function capture () {
  const lines: string[] = []
  const stream = new Writable({ write (chunk, _enc, cb) { lines.push(String(chunk)); cb() } })
  return { lines, stream }
}

async function build (stream: Writable) {
  const opts = serverOptions({ service: 'test', logLevel: 'info' })
  const app = Fastify({ ...opts, logger: { ...(opts.logger as object), stream } })
  installErrorHandling(app)
  app.get('/teapot', async () => { throw new Teapot('short and stout') })
  app.get('/boom', async () => { throw new Error('database password is hunter2') })
  app.get('/bad-gateway', async () => { throw new Gateway() })
  app.get('/busy', async () => { throw new Busy('system error rid: 65f0a1-internal-host-10.0.0.7') })
  app.get('/slow', async () => { throw new Slow('POST /cgi-bin/message/custom/send after 5000 ms') })
  app.get('/disabled', async () => { throw new Disabled() })
  app.post('/echo', { schema: { body: { type: 'object', required: ['a'], properties: { a: { type: 'string' } } } } }, async (req) => req.body)
  app.get('/id', async (req) => ({ id: req.id }))
  return app
}

t.test('4xx keep code and message; 5xx are hidden and logged', async (t) => {
  const { lines, stream } = capture()
  const app = await build(stream)
  t.teardown(() => app.close())
  const teapot = await app.inject('/teapot')
  t.equal(teapot.statusCode, 418)
  t.same(teapot.json(), { statusCode: 418, code: 'TEST_TEAPOT', error: 'Error', message: 'I am a teapot: short and stout' })
  const boom = await app.inject('/boom')
  t.equal(boom.statusCode, 500)
  t.same(boom.json(), { statusCode: 500, code: 'INTERNAL_ERROR', error: 'Internal Server Error', message: 'Internal server error' })
  t.ok(lines.some((l) => l.includes('hunter2') && l.includes('request failed')), 'the 5xx detail is in the log')
  const bad = await app.inject('/bad-gateway')
  t.equal(bad.statusCode, 502)
  t.equal(bad.json().code, 'TEST_UPSTREAM')
})

t.test('502/503/504: the stable code and a generic message; the detail is logged with the request id', async (t) => {
  const { lines, stream } = capture()
  const app = await build(stream)
  t.teardown(() => app.close())
  const cases = [
    { url: '/bad-gateway', status: 502, code: 'TEST_UPSTREAM', detail: 'upstream said no' },
    { url: '/busy', status: 503, code: 'TEST_BUSY', detail: 'system error rid: 65f0a1-internal-host-10.0.0.7' },
    { url: '/slow', status: 504, code: 'TEST_SLOW', detail: '/cgi-bin/message/custom/send after 5000 ms' }
  ]
  for (const c of cases) {
    const requestId = `req-${c.status}`
    const res = await app.inject({ url: c.url, headers: { 'x-request-id': requestId } })
    t.equal(res.statusCode, c.status)
    t.same(res.json(), { statusCode: c.status, code: c.code, error: res.json().error, message: GENERIC_5XX_MESSAGES[c.status] }, `${c.status}: code and generic message`)
    t.notMatch(res.body, c.detail, `${c.status}: no detail in the answer`)
    const logged = lines.map((l) => JSON.parse(l)).filter((l) => l.reqId === requestId && l.msg === 'request failed')
    t.equal(logged.length, 1, `${c.status}: one log line with the request id`)
    t.match(logged[0]?.err?.message, c.detail, `${c.status}: the detail is in the log`)
    t.equal(logged[0]?.code, c.code)
    t.equal(logged[0]?.level, 50, 'logged as an error')
  }
  const disabled = await app.inject('/disabled')
  t.same(disabled.json(), { statusCode: 503, code: 'TEST_DISABLED', error: 'Service Unavailable', message: 'The feature is off: set FEATURE_KEY' }, 'a text of our own marked with exposeMessages is shown')
})

t.test('validation, malformed JSON, unknown routes', async (t) => {
  const { stream } = capture()
  const app = await build(stream)
  t.teardown(() => app.close())
  const invalid = await app.inject({ method: 'POST', url: '/echo', payload: { b: 1 } })
  t.equal(invalid.statusCode, 400)
  t.equal(invalid.json().code, 'VALIDATION_FAILED')
  const malformed = await app.inject({ method: 'POST', url: '/echo', headers: { 'content-type': 'application/json' }, payload: '{"a":' })
  t.equal(malformed.statusCode, 400)
  t.equal(malformed.json().code, 'FST_ERR_CTP_INVALID_JSON_BODY')
  const big = await app.inject({ method: 'POST', url: '/echo', payload: { a: 'x'.repeat(70 * 1024) } })
  t.equal(big.statusCode, 413)
  t.equal(big.json().code, 'FST_ERR_CTP_BODY_TOO_LARGE')
  const missing = await app.inject('/nope?token=secret')
  t.equal(missing.statusCode, 404)
  t.same(missing.json(), { statusCode: 404, code: 'COMMON_NOT_FOUND', error: 'Not Found', message: 'Route GET:/nope not found' })
})

t.test('request ids: a tame incoming id is kept, anything else replaced', async (t) => {
  const { stream } = capture()
  const app = await build(stream)
  t.teardown(() => app.close())
  const kept = await app.inject({ url: '/id', headers: { 'x-request-id': 'abc-123' } })
  t.equal(kept.json().id, 'abc-123')
  const replaced = await app.inject({ url: '/id', headers: { 'x-request-id': 'bad id with spaces\n' } })
  t.match(replaced.json().id, /^[0-9a-f-]{36}$/)
})
