import t from 'tap'
import { createServer } from 'node:http'
import { localUrl, rawRequest } from '../src/index.js'

t.test('rawRequest sends the path as written, with its method, headers and body, and reads the reply', async (t) => {
  const seen: Array<{ method: string, url: string, header: string | undefined, body: string }> = []
  const server = createServer((req, res) => {
    let body = ''
    req.on('data', (c: Buffer) => { body += c.toString('utf8') })
    req.on('end', () => {
      seen.push({ method: req.method ?? '', url: req.url ?? '', header: req.headers['x-probe'] as string | undefined, body })
      res.setHeader('content-type', 'application/json')
      res.end('{"ok":true}')
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => { server.close() })
  const base = localUrl(server)

  const reply = await rawRequest(base, { method: 'POST', path: '/a/../b?x=%2e%2e', headers: { 'x-probe': '1' }, body: 'hello' })
  t.equal(reply.status, 200)
  t.equal(reply.headers['content-type'], 'application/json')
  t.same(reply.json(), { ok: true })
  t.same(seen[0], { method: 'POST', url: '/a/../b?x=%2e%2e', header: '1', body: 'hello' }, 'not normalised')

  await rawRequest(`${base}/plain`)
  t.same(seen[1], { method: 'GET', url: '/plain', header: undefined, body: '' }, 'the URL\'s own path by default')
})
