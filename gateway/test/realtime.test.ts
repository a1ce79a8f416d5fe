import { once } from 'node:events'
import { connect } from 'node:net'
import { decodeIdentity } from '@weapp/common'
import t from 'tap'
import { Client, refusal } from '../../services/realtime-ws/test/fixtures/ws-client.js'
import { ADMIN_API_KEYS, BEARER, WAFER2_SKEY, WAFER_ID, WAFER_SKEY, adminBearer, bearer, startHarness } from './fixtures/gateway.js'

// realtime-ws builds tunnel URLs from PUBLIC_WS_ORIGIN only (a client's Host is never trusted for it).
const h = await startHarness({ env: { ADMIN_API_KEYS }, realtimeEnv: { PUBLIC_WS_ORIGIN: 'wss://wx.example.com' } })
t.teardown(h.close)

t.test('/ws with a bearer session: greeting from the session profile, then echo, through the gateway', async (t) => {
  const before = h.upstream.requests.length
  const c = await Client.open(t, `${h.wsUrl}/ws`, bearer())
  t.equal(await c.next(), 'Server: 恭喜，Bench User')
  c.ws.send('hello')
  t.equal(await c.next(), 'Server: Received(hello)')
  c.ws.send(JSON.stringify({ type: 'ping', id: 7 }))
  t.same(JSON.parse(await c.next()), { type: 'pong', id: 7 })
  c.ws.send(Buffer.alloc(70_000, 'x').toString().slice(0, 10_000))
  t.equal((await c.next()).length, 'Server: Received()'.length + 10_000, 'a larger frame (16-bit length) both ways')
  // realtime-ws asked the session service for the nickname with the identity the gateway forwarded.
  const me = h.upstream.requests.slice(before).find((r) => r.url === '/api/me')
  t.ok(me, 'nickname lookup reached the session service')
  t.match(decodeIdentity(String(me!.headers['x-weapp-identity'])), { kind: 'user', openid: 'openid-bearer', via: 'bearer' })
  c.ws.close(1000)
  t.equal((await c.closed).code, 1000, 'closed cleanly through the relay')
})

t.test('a burst of large frames both ways arrives whole and in order through the relay, the client reading late', async (t) => {
  const c = await Client.open(t, `${h.wsUrl}/ws`, bearer())
  t.equal(await c.next(), 'Server: 恭喜，Bench User')
  c.ws.pause()
  const count = 40
  const body = 'y'.repeat(15_000)
  for (let i = 0; i < count; i++) c.ws.send(`${i}:${body}`)
  await new Promise((resolve) => setTimeout(resolve, 200))
  c.ws.resume()
  const wrong: number[] = []
  for (let i = 0; i < count; i++) if (await c.next() !== `Server: Received(${i}:${body})`) wrong.push(i)
  t.same(wrong, [], `${count} echoes of 15 KB frames, in order`)
})

t.test('/ws with wafer generation 1 credentials in the query (names case-insensitive) or headers', async (t) => {
  const q = await Client.open(t, `${h.wsUrl}/ws?X-WX-Id=${WAFER_ID}&x-wx-skey=${WAFER_SKEY}`)
  t.equal(await q.next(), 'Server: 恭喜，Bench User')
  q.ws.send('from the seed client')
  t.equal(await q.next(), 'Server: Received(from the seed client)')
  const hd = await Client.open(t, `${h.wsUrl}/ws`, { 'x-wx-id': WAFER_ID, 'x-wx-skey': WAFER_SKEY })
  t.equal(await hd.next(), 'Server: 恭喜，Bench User')
  const gen2 = await Client.open(t, `${h.wsUrl}/ws`, { 'x-wx-skey': WAFER2_SKEY })
  t.equal(await gen2.next(), 'Server: 恭喜，Bench User')
})

t.test('/ws with a ticket from POST /api/ws/tickets through the gateway (user and admin)', async (t) => {
  const issued = await h.call('/api/ws/tickets', { method: 'POST', headers: bearer() })
  t.equal(issued.status, 200)
  const { ticket, url } = issued.json()
  t.type(ticket, 'string')
  t.equal(url, `/ws?ticket=${ticket}`)
  const c = await Client.open(t, `${h.wsUrl}${url}`)
  t.equal(await c.next(), 'Server: 恭喜，Bench User')
  c.ws.send('x')
  t.equal(await c.next(), 'Server: Received(x)')
  const reused = await refusal(`${h.wsUrl}${url}`)
  t.equal(reused.status, 401, 'single use: the second upgrade is refused by realtime-ws')
  t.equal(reused.body.code, 'WS_TICKET_INVALID')

  const admin = await h.call('/api/ws/tickets', { method: 'POST', headers: adminBearer() })
  t.equal(admin.status, 200, 'an admin key gets a ticket too')
  const a = await Client.open(t, `${h.wsUrl}${admin.json().url as string}`)
  t.equal(await a.next(), 'Server: 恭喜，ops', 'admins are greeted by their key id')

  const none = await h.call('/api/ws/tickets', { method: 'POST' })
  t.equal(none.status, 401)
  t.equal(none.json().code, 'GATEWAY_AUTH_REQUIRED')
  const bad = await h.call('/api/ws/tickets', { method: 'POST', headers: bearer('not-a-session-token-0123456789') })
  t.equal(bad.status, 401)
  t.equal(bad.json().code, 'GATEWAY_SESSION_INVALID')
})

t.test('/ws upgrades without a session are refused with 401 JSON before the socket opens', async (t) => {
  const none = await refusal(`${h.wsUrl}/ws`)
  t.equal(none.status, 401)
  t.equal(none.body.code, 'GATEWAY_AUTH_REQUIRED')
  t.type(none.headers['x-request-id'], 'string')
  const bad = await refusal(`${h.wsUrl}/ws`, bearer('not-a-session-token-0123456789'))
  t.equal(bad.status, 401)
  t.equal(bad.body.code, 'GATEWAY_SESSION_INVALID')
  const badWafer = await refusal(`${h.wsUrl}/ws?x-wx-id=${WAFER_ID}&x-wx-skey=wrong`)
  t.equal(badWafer.status, 401)
  const badTicket = await refusal(`${h.wsUrl}/ws?ticket=nope`)
  t.equal(badTicket.status, 401, 'an unknown ticket goes through and realtime-ws refuses it')
  t.equal(badTicket.body.code, 'WS_TICKET_INVALID')
  // Forged internal headers do not help: the gateway drops them and asks for a session.
  const forged = await refusal(`${h.wsUrl}/ws`, { 'x-internal-token': 'x'.repeat(40), 'x-weapp-identity': 'e30' })
  t.equal(forged.status, 401)
  t.equal(forged.body.code, 'GATEWAY_AUTH_REQUIRED')
  // Other paths do not upgrade.
  const other = await refusal(`${h.wsUrl}/nowhere`, bearer())
  t.equal(other.status, 404)
})

t.test('a plain GET /ws (no upgrade) is forwarded: realtime-ws answers 426', async (t) => {
  const res = await h.call('/ws', { headers: bearer() })
  t.equal(res.status, 426)
})

t.test('the wafer tunnel: GET /weapp/tunnel returns a URL on the public host; its socket round-trips through the gateway', async (t) => {
  const gen2 = await h.call('/weapp/tunnel', { headers: { 'x-wx-skey': WAFER2_SKEY, host: 'wx.example.com' } })
  t.equal(gen2.status, 200)
  const { code, data } = gen2.json()
  t.equal(code, 0)
  t.match(data.connectUrl, /^wss:\/\/wx\.example\.com\/weapp\/tunnel\/socket\?ticket=/)

  const gen1 = await h.call(`/weapp/tunnel?x-wx-id=${WAFER_ID}&x-wx-skey=${WAFER_SKEY}`, { headers: { host: 'wx.example.com' } })
  t.equal(gen1.status, 200)
  t.match(gen1.json(), { url: /^wss:\/\/wx\.example\.com\/weapp\/tunnel\/socket\?ticket=/ })

  const refusedWafer1 = await h.call(`/weapp/tunnel?x-wx-id=${WAFER_ID}&x-wx-skey=wrong`)
  t.equal(refusedWafer1.status, 200, 'a wafer1 client gets its own refusal shape')
  t.equal(refusedWafer1.json().error, 'ERR_INVALID_SESSION')
  t.equal((await h.call('/weapp/tunnel')).status, 401)

  const socketUrl = (data.connectUrl as string).replace('wss://wx.example.com', h.wsUrl)
  const c = await Client.open(t, socketUrl)
  t.equal(await c.next(), 'timeout:15')
  c.ws.send('ping')
  t.equal(await c.next(), 'pong')
  c.ws.send('message:{"type":"speak","content":"hi"}')
  t.equal(await c.next(), 'message:{"type":"speak","content":"hi"}')

  const noTicket = await refusal(`${h.wsUrl}/weapp/tunnel/socket`)
  t.equal(noTicket.status, 401, 'no ticket: realtime-ws refuses')
  t.equal(noTicket.body.code, 'WS_AUTH_REQUIRED')
})

t.test('the upgrade carries the gateway headers and keeps the client\'s host', async (t) => {
  const seen: Array<Record<string, unknown>> = []
  const listener = (req: { headers: Record<string, unknown> }): void => { seen.push(req.headers) }
  h.realtime.server.prependListener('upgrade', listener)
  t.teardown(() => { h.realtime.server.removeListener('upgrade', listener) })
  const c = await Client.open(t, `${h.wsUrl}/ws`, { ...bearer(), 'x-request-id': 'ws-req-1' })
  await c.next()
  const headers = seen.at(-1)!
  t.equal(headers['x-internal-token'], h.config.INTERNAL_TOKEN)
  t.match(decodeIdentity(String(headers['x-weapp-identity'])), { kind: 'user', openid: 'openid-bearer' })
  t.equal(headers['x-request-id'], 'ws-req-1')
  t.equal(headers.host, new URL(h.url).host)
  t.equal(headers['x-forwarded-host'], new URL(h.url).host)
  t.equal(headers.authorization, `Bearer ${BEARER}`)
})

t.test('realtime-ws down: the upgrade gets a 502 JSON answer', async (t) => {
  const down = await startHarness()
  t.teardown(async () => { await down.app.close(); await down.upstream.close(); await down.cs.close() })
  await down.realtime.close()
  const res = await refusal(`${down.wsUrl}/ws`, bearer())
  t.equal(res.status, 502)
  t.equal(res.body.code, 'GATEWAY_UPSTREAM_UNAVAILABLE')
})

t.test('once shutdown has begun, HTTP requests and upgrades still arriving get 503 GATEWAY_CLOSING', async (t) => {
  const g = await startHarness({
    upstream: {
      routes: (app, sleep) => {
        app.get('/api/me/slow', async () => {
          await sleep(300)
          return { finished: true }
        })
      }
    }
  })
  t.teardown(async () => { await g.upstream.close(); await g.cs.close(); await g.realtime.close() })
  // Kept-alive connections with a request under way: the gateway still reads from them once it has
  // begun to close (new connections are no longer accepted).
  const port = Number(new URL(g.url).port)
  const sockets = [connect({ host: '127.0.0.1', port }), connect({ host: '127.0.0.1', port })]
  const answers = sockets.map((socket) => {
    t.teardown(() => { socket.destroy() })
    // A reset after the gateway's last answer is no failure; one before it fails the read below.
    socket.on('error', () => {})
    socket.setEncoding('latin1')
    let text = ''
    socket.on('data', (chunk: string) => { text += chunk })
    return { next: async (marker: string) => { while (!text.includes(marker)) await once(socket, 'data'); const all = text; text = ''; return all } }
  })
  for (const socket of sockets) socket.write(`GET /api/me/slow HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${BEARER}\r\n\r\n`)
  await new Promise((resolve) => setTimeout(resolve, 50))
  const closed = g.app.close()
  for (const answer of answers) t.match(await answer.next('{"finished":true}'), /^HTTP\/1\.1 200 /, 'the request under way finished')
  sockets[0]!.write(`GET /api/me HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${BEARER}\r\n\r\n`)
  sockets[1]!.write(`GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nAuthorization: Bearer ${BEARER}\r\n\r\n`)
  const closingBody = '{"statusCode":503,"code":"GATEWAY_CLOSING","error":"Service Unavailable","message":"The gateway is shutting down"}'
  const http = await answers[0]!.next(closingBody)
  t.match(http, /^HTTP\/1\.1 503 /, 'a request: 503')
  t.match(http, /\r\nconnection: close\r\n/i)
  const upgrade = await answers[1]!.next(closingBody)
  t.match(upgrade, /^HTTP\/1\.1 503 /, 'an upgrade: 503, no socket relayed')
  await closed
})

t.test('an upgrade whose session lookup is still under way when shutdown begins gets 503 GATEWAY_CLOSING, not a relay', async (t) => {
  const g = await startHarness()
  t.teardown(async () => { await g.upstream.close(); await g.cs.close(); await g.realtime.close() })
  g.upstream.resolveDelayMs = 300
  const upgrade = refusal(`${g.wsUrl}/ws`, bearer())
  await new Promise((resolve) => setTimeout(resolve, 100))
  const closed = g.app.close()
  const res = await upgrade
  t.equal(res.status, 503)
  t.equal(res.body.code, 'GATEWAY_CLOSING')
  await closed
})

t.test('closing the gateway ends the relayed sockets; closing realtime-ws closes them with 1001', async (t) => {
  const g = await startHarness()
  const c = await Client.open(t, `${g.wsUrl}/ws`, bearer())
  t.equal(await c.next(), 'Server: 恭喜，Bench User')
  const started = Date.now()
  await g.app.close()
  const { code } = await c.closed
  t.ok(code === 1006 || code === 1001, `client saw the close (${code})`)
  t.ok(Date.now() - started < 1500, 'the gateway closed without waiting for the socket')
  await g.upstream.close(); await g.cs.close(); await g.realtime.close()

  const r = await startHarness()
  t.teardown(async () => { await r.app.close(); await r.upstream.close(); await r.cs.close() })
  const d = await Client.open(t, `${r.wsUrl}/ws`, bearer())
  t.equal(await d.next(), 'Server: 恭喜，Bench User')
  await r.realtime.close()
  t.equal((await d.closed).code, 1001, 'realtime-ws going away reaches the client as 1001')
})
