// bench:peers' loader (bench/lib/peers-load.ts): answers with a Content-Length or chunked (Express's
// writeHead + end), a fixed number of requests or a time, connections the server closes opened again.
import { createServer } from 'node:http'
import { once } from 'node:events'
import t from 'tap'
import { httpRequest, parseResponse, peerLoad } from '../lib/peers-load.js'

t.test('parseResponse reads Content-Length and chunked answers, and waits for the rest of either', async (t) => {
  const plain = Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 7\r\n\r\nsuccessHTTP/1.1')
  t.same(parseResponse(plain), { status: 200, body: 'success', length: plain.length - 8, close: false })
  t.equal(parseResponse(plain.subarray(0, 40)), null, 'a body not all there yet')
  const chunked = Buffer.from('HTTP/1.1 401 Unauthorized\r\nTransfer-Encoding: chunked\r\n\r\n7\r\nInvalid\r\nA\r\n signature\r\n0\r\n\r\n')
  t.same(parseResponse(chunked), { status: 401, body: 'Invalid signature', length: chunked.length, close: false })
  t.equal(parseResponse(chunked.subarray(0, chunked.length - 2)), null, 'no last chunk yet')
  const empty = Buffer.from('HTTP/1.1 200 OK\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n')
  t.same(parseResponse(empty), { status: 200, body: '', length: empty.length, close: true }, 'the server closes after it')
})

t.test('peerLoad sends exactly `total` requests over its connections, reconnecting when the server closes', async (t) => {
  let served = 0
  const server = createServer((req, res) => {
    served++
    // Every third answer closes the connection (as nginx does after keepalive_requests).
    if (served % 3 === 0) res.setHeader('Connection', 'close')
    res.writeHead(served % 2 === 0 ? 200 : 404)
    res.end(req.headers['x-probe'] ?? '')
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  t.teardown(() => { server.close() })
  const { port } = server.address() as { port: number }
  const bodies: string[] = []
  const result = await peerLoad({
    origin: `http://127.0.0.1:${port}`,
    connections: 4,
    total: 30,
    next: (conn) => httpRequest('GET', '/', `127.0.0.1:${port}`, { 'X-Probe': `c${conn}` }),
    onResponse: (_status, body) => { bodies.push(body) }
  })
  t.equal(result.requests, 30)
  t.equal(served, 30)
  t.equal(result.non2xx, 15, 'the 404s counted')
  t.ok(bodies.every((b) => /^c[0-3]$/.test(b)), 'each request carried its connection’s headers')
})
