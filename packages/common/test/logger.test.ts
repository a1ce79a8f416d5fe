import t from 'tap'
import { Writable } from 'node:stream'
import { pino } from 'pino'
import { loggerOptions } from '@weapp/common'

t.test('secrets are redacted wherever they sit', async (t) => {
  const lines: string[] = []
  const stream = new Writable({ write (chunk, _enc, cb) { lines.push(String(chunk)); cb() } })
  const log = pino(loggerOptions('svc', 'info'), stream)
  log.info({ wx: { session_key: 'SK==', secret: 'APPSECRET', access_token: 'AT' }, user: { token: 'tok', skey: 'sk' } }, 'hello')
  const out = lines.join('')
  for (const leaked of ['SK==', 'APPSECRET', '"AT"', 'tok"', '"sk"']) t.notOk(out.includes(leaked), `${leaked} not logged`)
  t.match(out, /\[redacted\]/)
  t.match(JSON.parse(out).service, 'svc')
})

t.test('request urls are logged without their query string', async (t) => {
  const opts = loggerOptions('svc', 'info')
  const serializers = opts.serializers as { req: (r: { method: string, url: string, id: string }) => unknown }
  t.same(serializers.req({ method: 'GET', url: '/weapp/tunnel?ticket=abc', id: '1' }), { method: 'GET', url: '/weapp/tunnel', id: '1' })
})

t.test('request loggers are created lazily and still log with the request id', async (t) => {
  const { default: Fastify } = await import('fastify')
  const { serverOptions } = await import('@weapp/common')
  const lines: string[] = []
  const stream = new Writable({ write (chunk, _enc, cb) { lines.push(String(chunk)); cb() } })
  const opts = serverOptions({ service: 'svc', logLevel: 'info' })
  const app = Fastify({ ...opts, logger: { ...(opts.logger as object), stream } })
  app.get('/quiet', async () => 'ok')
  app.get('/loud', async (request) => { request.log.info({ user: { token: 'T0K' } }, 'hello'); request.log.debug('hidden'); return 'ok' })
  await app.inject({ url: '/quiet', headers: { 'x-request-id': 'r-1' } })
  t.equal(lines.filter((l) => l.includes('r-1')).length, 0, 'a request that logs nothing writes nothing')
  await app.inject({ url: '/loud', headers: { 'x-request-id': 'r-2' } })
  const logged = lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.reqId === 'r-2')
  t.equal(logged.length, 1)
  t.equal(logged[0]?.msg, 'hello')
  t.notOk(lines.join('').includes('T0K'), 'redaction still applies')
  await app.close()
})
