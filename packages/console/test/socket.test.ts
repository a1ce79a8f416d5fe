// The console socket's protocol (src/socket.ts) against a real WebSocket server speaking realtime-ws's
// frames: hello after every (re)connect, replayed events applied once, resync-required, viewing and typing
// frames, close code 4001 ends the session. Node 20 has no WebSocket global: the `ws` client stands in.
import { once } from 'node:events'
import type { AddressInfo } from 'node:net'
import t from 'tap'
import { WebSocket, WebSocketServer } from 'ws'
import { waitFor } from '@weapp/test-kit'
import type { ConsoleEvent } from '@weapp/common'
import { backoffDelay, ConsoleSocket, socketUrl, type SocketState } from '../src/socket.js'

;(globalThis as { WebSocket?: unknown }).WebSocket = WebSocket

t.test('backoff doubles from 0.5 s to a 15 s cap, jittered ±20 %; the URL is same-origin', async (t) => {
  t.equal(backoffDelay(0, 0.5), 500)
  t.equal(backoffDelay(3, 0.5), 4000)
  t.equal(backoffDelay(10, 0.5), 15_000)
  t.equal(backoffDelay(0, 0), 400)
  t.equal(backoffDelay(0, 1), 600)
  t.equal(socketUrl({ protocol: 'https:', host: 'cs.example.com' }), 'wss://cs.example.com/console/ws')
  t.equal(socketUrl({ protocol: 'http:', host: '127.0.0.1:8080' }), 'ws://127.0.0.1:8080/console/ws')
})

t.test('hello, events, reconnect with replay, resync, viewing, typing and the 4001 close', async (t) => {
  const server = new WebSocketServer({ host: '127.0.0.1', port: 0 })
  await once(server, 'listening')
  t.teardown(() => { server.close() })
  const received: Array<Record<string, unknown>> = []
  const sockets: WebSocket[] = []
  server.on('connection', (ws) => {
    sockets.push(ws)
    ws.on('message', (data) => { received.push(JSON.parse(data.toString()) as Record<string, unknown>) })
  })
  const events: ConsoleEvent[] = []
  const states: SocketState[] = []
  let resyncs = 0
  let ended = 0
  const console = new ConsoleSocket({
    state: (s) => { states.push(s) },
    event: (e) => { events.push(e) },
    resync: () => { resyncs++ },
    presence: () => {},
    ended: () => { ended++ },
    failed: () => {}
  }, `ws://127.0.0.1:${(server.address() as AddressInfo).port}/console/ws`)
  t.teardown(() => { console.stop() })
  const note = (id: string): ConsoleEvent => ({ type: 'note', note: { id, openid: 'u1', author: { agentId: 'a', displayName: 'A' }, text: id, createdAt: new Date().toISOString() } })
  const frames = (type: string): Array<Record<string, unknown>> => received.filter((f) => f.type === type)

  console.start()
  await waitFor(() => sockets.length === 1, { what: 'the first connection' })
  sockets[0]!.send(JSON.stringify({ type: 'welcome', epoch: 'e1', seq: 5, agent: { agentId: 'a', displayName: 'A' } }))
  await waitFor(() => frames('hello').length === 1, { what: 'hello' })
  t.same(frames('hello')[0], { type: 'hello' }, 'the first hello asks for no replay')
  t.equal(resyncs, 1, 'the first connect loads by REST')
  t.equal(states.at(-1), 'open')

  sockets[0]!.send(JSON.stringify({ type: 'event', seq: 6, event: note('n6') }))
  sockets[0]!.send(JSON.stringify({ type: 'event', seq: 6, event: note('n6') }))
  await waitFor(() => events.length === 1, { what: 'the event' })

  console.viewing('u1')
  console.typing('u1', 1000)
  console.typing('u1', 2000)
  console.typing('u1', 4000)
  await waitFor(() => frames('typing').length === 2 && frames('viewing').some((f) => f.openid === 'u1'), { what: 'viewing and typing frames' })

  // The server goes away: the console reconnects and asks for what came after seq 6 of epoch e1.
  sockets[0]!.close(1011)
  await waitFor(() => sockets.length === 2, { what: 'the reconnect', timeoutMs: 5000 })
  t.equal(states.includes('closed'), true)
  sockets[1]!.send(JSON.stringify({ type: 'welcome', epoch: 'e1', seq: 9, agent: { agentId: 'a', displayName: 'A' } }))
  await waitFor(() => frames('hello').length === 2, { what: 'the second hello' })
  t.same(frames('hello')[1], { type: 'hello', epoch: 'e1', after: 6 })
  await waitFor(() => frames('viewing').filter((f) => f.openid === 'u1').length >= 2, { what: 'viewing re-announced after the reconnect' })
  sockets[1]!.send(JSON.stringify({ type: 'event', seq: 7, event: note('n7') }))
  await waitFor(() => events.length === 2, { what: 'the replayed event' })
  t.equal(resyncs, 1, 'a replay needs no reload')

  sockets[1]!.send(JSON.stringify({ type: 'resync-required' }))
  await waitFor(() => resyncs === 2, { what: 'the resync' })

  sockets[1]!.close(4001, 'session ended')
  await waitFor(() => ended === 1, { what: 'the session end' })
  await new Promise((resolve) => setTimeout(resolve, 900))
  t.equal(sockets.length, 2, 'no reconnect after the session ended')
})

t.test('a socket replaced by a newer one of the same agent (1008) is not retried: it would close another tab', async (t) => {
  const server = new WebSocketServer({ host: '127.0.0.1', port: 0 })
  await once(server, 'listening')
  t.teardown(() => { server.close() })
  const sockets: WebSocket[] = []
  server.on('connection', (ws) => { sockets.push(ws) })
  const states: SocketState[] = []
  const console = new ConsoleSocket({
    state: (s) => { states.push(s) },
    event: () => {},
    resync: () => {},
    presence: () => {},
    ended: () => {},
    failed: () => {}
  }, `ws://127.0.0.1:${(server.address() as AddressInfo).port}/console/ws`)
  t.teardown(() => { console.stop() })
  console.start()
  await waitFor(() => sockets.length === 1, { what: 'the connection' })
  sockets[0]!.send(JSON.stringify({ type: 'welcome', epoch: 'e1', seq: 0, agent: { agentId: 'a', displayName: 'A' } }))
  await waitFor(() => states.includes('open'), { what: 'open' })
  sockets[0]!.close(1008, 'connection limit: replaced by a newer connection')
  await waitFor(() => states.at(-1) === 'replaced', { what: 'the replaced state' })
  await new Promise((resolve) => setTimeout(resolve, 900))
  t.equal(sockets.length, 1, 'no reconnect')
})
