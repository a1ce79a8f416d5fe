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
