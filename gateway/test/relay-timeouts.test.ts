// The WebSocket relay's two timeouts, on real sockets: an upstream that never answers the upgrade
// (WS_UPGRADE_TIMEOUT_MS), and a relayed pair with no traffic (WS_IDLE_TIMEOUT_MS), against stand-in
// upstreams written as raw TCP servers and against the real realtime-ws and its ping heartbeat.
import { once } from 'node:events'
import { connect, createServer, type Server, type Socket } from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'
import t from 'tap'
import { Client } from '../../services/realtime-ws/test/fixtures/ws-client.js'
import { DEFAULT_WS_IDLE_TIMEOUT_MS, DEFAULT_WS_UPGRADE_TIMEOUT_MS, loadGatewayConfig } from '../src/config.js'
import { INTERNAL_TOKEN, bearer, startHarness } from './fixtures/gateway.js'

interface RawUpstream {
  url: string
  /** Sockets the gateway opened, with whether each has closed. */
  sockets: Array<{ socket: Socket, closed: boolean }>
}

/** A TCP server standing in for realtime-ws: `onConnection` decides what it answers (or not). */
async function rawUpstream (t: { teardown (fn: () => unknown): void }, onConnection: (socket: Socket) => void): Promise<RawUpstream> {
  const sockets: RawUpstream['sockets'] = []
  const server: Server = createServer((socket) => {
    const entry = { socket, closed: false }
    sockets.push(entry)
    socket.on('error', () => {})
    socket.on('close', () => { entry.closed = true })
    socket.resume() // read (and drop) what the gateway sends, so its end is seen
    onConnection(socket)
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  t.teardown(() => { for (const s of sockets) s.socket.destroy(); server.close() })
  return { url: `http://127.0.0.1:${(server.address() as { port: number }).port}`, sockets }
}

const UPGRADE = (path: string): string => `GET ${path} HTTP/1.1\r\nHost: gw\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n`
const SWITCHED = 'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n'

interface RawClient { socket: Socket, text: () => string, closed: Promise<number> }

/** A client socket that upgrades `path` (a ticket route: the gateway relays it without a session). */
async function rawClient (gatewayUrl: string, path: string): Promise<RawClient> {
  const { port } = new URL(gatewayUrl)
  const socket = connect(Number(port), '127.0.0.1')
  await once(socket, 'connect')
  let received = ''
  socket.on('data', (chunk: Buffer) => { received += chunk.toString('utf8') })
  socket.on('error', () => {})
  const started = Date.now()
  const closed = new Promise<number>((resolve) => { socket.once('close', () => { resolve(Date.now() - started) }) })
  socket.write(UPGRADE(path))
  return { socket, text: () => received, closed }
}

t.test('defaults', async (t) => {
  const config = loadGatewayConfig({ INTERNAL_TOKEN })
  t.equal(config.WS_UPGRADE_TIMEOUT_MS, DEFAULT_WS_UPGRADE_TIMEOUT_MS)
  t.equal(config.WS_IDLE_TIMEOUT_MS, DEFAULT_WS_IDLE_TIMEOUT_MS)
  t.equal(DEFAULT_WS_UPGRADE_TIMEOUT_MS, 10_000)
  t.equal(DEFAULT_WS_IDLE_TIMEOUT_MS, 120_000)
  t.throws(() => loadGatewayConfig({ INTERNAL_TOKEN, WS_IDLE_TIMEOUT_MS: '10' }), { message: /WS_IDLE_TIMEOUT_MS/ })
})

t.test('an upstream that accepts the connection but never answers the upgrade: 504 after WS_UPGRADE_TIMEOUT_MS, both ends closed', async (t) => {
  const stalled = await rawUpstream(t, () => {})
  const h = await startHarness({ env: { REALTIME_WS_URL: stalled.url, WS_UPGRADE_TIMEOUT_MS: '300' } })
  t.teardown(h.close)
  const client = await rawClient(h.url, '/weapp/tunnel/socket?ticket=abc')
  const took = await Promise.race([client.closed, sleep(5000).then(() => -1)])
  t.ok(took >= 250 && took < 2000, `the client's socket closed after ${took} ms`)
  const [head, body] = client.text().split('\r\n\r\n')
  t.match(head, /^HTTP\/1\.1 504 Gateway Timeout\r\n/)
  t.match(head, /\r\nx-request-id: \S+/)
  t.same(JSON.parse(body!), { statusCode: 504, code: 'GATEWAY_UPSTREAM_TIMEOUT', error: 'Gateway Timeout', message: 'Upstream realtime did not answer in time' })
  t.equal(stalled.sockets.length, 1, 'the upgrade reached the upstream')
  t.ok(await waitUntil(() => stalled.sockets[0]!.closed, 2000), 'and its connection was dropped')
  t.match((await h.call('/metrics')).text, /gateway_upstream_errors_total\{upstream="realtime",kind="timeout"\} 1\n/)
})

t.test('an upstream that answers in time is relayed (the upgrade timeout ends at its first byte)', async (t) => {
  const slow = await rawUpstream(t, (socket) => { setTimeout(() => { socket.write(SWITCHED) }, 150) })
  const h = await startHarness({ env: { REALTIME_WS_URL: slow.url, WS_UPGRADE_TIMEOUT_MS: '300' } })
  t.teardown(h.close)
  const client = await rawClient(h.url, '/weapp/tunnel/socket?ticket=abc')
  await sleep(600)
  t.match(client.text(), /^HTTP\/1\.1 101 Switching Protocols/)
  t.notOk(slow.sockets[0]!.closed, 'still open past the upgrade timeout')
  client.socket.destroy()
})

t.test('a relayed pair with no traffic either way is closed after WS_IDLE_TIMEOUT_MS; traffic keeps it open', async (t) => {
  // The quiet upstream answers the upgrade and then says nothing; the chatty one sends a byte every 200 ms.
  const quiet = await rawUpstream(t, (socket) => { socket.write(SWITCHED) })
  const chatty = await rawUpstream(t, (socket) => {
    socket.write(SWITCHED)
    const timer = setInterval(() => { socket.write('\x89\x00') }, 200) // a ping frame, as realtime-ws sends
    socket.on('close', () => { clearInterval(timer) })
  })
  const h = await startHarness({ env: { REALTIME_WS_URL: quiet.url, WS_IDLE_TIMEOUT_MS: '1000' } })
  t.teardown(h.close)
  const hc = await startHarness({ env: { REALTIME_WS_URL: chatty.url, WS_IDLE_TIMEOUT_MS: '1000' } })
  t.teardown(hc.close)

  const idle = await rawClient(h.url, '/weapp/tunnel/socket?ticket=abc')
  const busy = await rawClient(hc.url, '/weapp/tunnel/socket?ticket=abc')
  // The client talks, the upstream does not: traffic one way is traffic.
  const talker = await rawClient(h.url, '/weapp/tunnel/socket?ticket=abc')
  const talking = setInterval(() => { talker.socket.write('\x8a\x80\x00\x00\x00\x00') }, 200) // masked pong frames
  t.teardown(() => { clearInterval(talking) })

  const took = await Promise.race([idle.closed, sleep(5000).then(() => -1)])
  t.ok(took >= 1000 && took < 2500, `the idle pair closed after ${took} ms`)
  t.match(idle.text(), /^HTTP\/1\.1 101 /, 'after the upgrade had gone through')
  t.ok(await waitUntil(() => quiet.sockets[0]!.closed, 3000), 'the upstream side closed too')

  await sleep(2500)
  t.equal(busy.socket.destroyed, false, 'a pair with upstream traffic is still open after 2.5 idle timeouts')
  t.equal(talker.socket.destroyed, false, 'a pair with client traffic too')
  t.notOk(chatty.sockets[0]!.closed)
  clearInterval(talking)
  busy.socket.destroy()
  talker.socket.destroy()
})

t.test('a real realtime-ws socket kept by its ping/pong heartbeat is never idle', async (t) => {
  const h = await startHarness({ env: { WS_IDLE_TIMEOUT_MS: '1000' }, realtimeEnv: { HEARTBEAT_INTERVAL_MS: '300' } })
  t.teardown(h.close)
  const c = await Client.open(t, `${h.wsUrl}/ws`, bearer())
  t.equal(await c.next(), 'Server: 恭喜，Bench User')
  let pings = 0
  c.ws.on('ping', () => { pings++ })
  await sleep(3000)
  t.ok(pings >= 5, `${pings} pings answered (ws answers each with a pong)`)
  t.equal(c.ws.readyState, c.ws.OPEN, 'open after 3 idle timeouts without a message')
  c.ws.send('still here')
  t.equal(await c.next(), 'Server: Received(still here)')
})

async function waitUntil (condition: () => boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms
  while (!condition()) {
    if (Date.now() > end) return false
    await sleep(20)
  }
  return true
}
