import t from 'tap'
import { Writable } from 'node:stream'
import Fastify from 'fastify'
import createError from '@fastify/error'
import { installErrorHandling, serverOptions } from '@weapp/common'

const Teapot = createError('TEST_TEAPOT', 'I am a teapot: %s', 418)
const Gateway = createError('TEST_UPSTREAM', 'upstream said no', 502)

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
