// A load-generating client process of `pnpm bench:ws` (started by ws-clients.ts, driven over IPC).
// It holds groups of `ws` client sockets and runs, on request: open (each socket counts as open once its
// first frame, the greeting, arrived), a closed echo loop (send, await the echo, send again) for a fixed
// time with an RTT histogram, channel subscriptions, and fan-out receipt times of pushed events.
import WebSocket from 'ws'
import type { WorkerReply, WorkerRequest, OpenSpec, FanoutReceipt } from './ws-clients.js'
import { RTT_BUCKET_US, RTT_BUCKETS } from './ws-clients.js'

const S = 0x53 // 'S': greeting and echo frames ("Server: ..."); JSON frames start with '{'

interface Conn {
  ws: WebSocket
  /** performance.now() of the echo request in flight, or -1. */
  sentAt: number
}

const groups = new Map<string, Conn[]>()

// Echo loop state (one loop at a time).
let loop: { deadline: number, message: string, count: number, bad: number, hist: Uint32Array, inFlight: number, done: () => void } | null = null
// Fan-out: receipt times per event sequence number, in µs of process.hrtime (CLOCK_MONOTONIC: the same
// clock in every process of the machine, so the publisher's time can be subtracted).
const receipts = new Map<number, number[]>()
let fanoutExpect = 0

function send (reply: WorkerReply): void { process.send!(reply) }

function onFrame (conn: Conn, data: Buffer): void {
  if (data[0] === S) {
    if (loop === null || conn.sentAt < 0) return
    const now = performance.now()
    const us = (now - conn.sentAt) * 1000
    loop.hist[Math.min(RTT_BUCKETS - 1, Math.floor(us / RTT_BUCKET_US))]!++
    loop.count++
    if (now < loop.deadline) {
      conn.sentAt = performance.now()
      conn.ws.send(loop.message)
    } else {
      conn.sentAt = -1
      if (--loop.inFlight === 0) loop.done()
    }
    return
  }
  if (data[0] !== 0x7b) return
  const at = Number(process.hrtime.bigint() / 1000n)
  let frame: { type?: string, data?: { seq?: number } }
  try { frame = JSON.parse(data.toString('utf8')) } catch { return }
  if (frame.type !== 'event' || typeof frame.data?.seq !== 'number') return
  const seq = frame.data.seq
  let list = receipts.get(seq)
  if (list === undefined) { list = []; receipts.set(seq, list) }
  list.push(at)
  if (list.length === fanoutExpect) send({ kind: 'fanout-complete', seq })
}

/** Opens one socket; resolves once its greeting arrived. */
async function openOne (spec: OpenSpec, timeoutMs: number): Promise<Conn> {
  return await new Promise<Conn>((resolve, reject) => {
    const ws = new WebSocket(spec.url, { headers: spec.headers, perMessageDeflate: false, handshakeTimeout: timeoutMs })
    const conn: Conn = { ws, sentAt: -1 }
    let settled = false
    const fail = (why: string): void => {
      if (settled) return
      settled = true
      ws.terminate()
      reject(new Error(why))
    }
    const timer = setTimeout(() => { fail('no greeting in time') }, timeoutMs)
    ws.on('unexpected-response', (_req, res) => { clearTimeout(timer); fail(`HTTP ${res.statusCode ?? '?'}`) })
    ws.on('error', (err) => { clearTimeout(timer); fail(err.message) })
    ws.on('close', (code) => { clearTimeout(timer); fail(`closed ${code}`) })
    ws.once('message', (data: Buffer) => {
      clearTimeout(timer)
      if (settled) return
      settled = true
      if (data[0] !== S) { ws.terminate(); reject(new Error(`first frame is not a greeting: ${data.toString('utf8').slice(0, 80)}`)); return }
      ws.removeAllListeners('close')
      ws.removeAllListeners('error')
      ws.on('error', () => {})
      ws.on('message', (frame: Buffer) => { onFrame(conn, frame) })
      resolve(conn)
    })
  })
}

async function open (group: string, specs: OpenSpec[], concurrency: number, timeoutMs: number): Promise<WorkerReply> {
  const list = groups.get(group) ?? []
  groups.set(group, list)
  const errors = new Map<string, number>()
  let next = 0
  let failed = 0
  const started = performance.now()
  await Promise.all(Array.from({ length: Math.min(concurrency, specs.length) }, async () => {
    while (next < specs.length) {
      const spec = specs[next++]!
      try {
        list.push(await openOne(spec, timeoutMs))
      } catch (err) {
        failed++
        const why = (err as Error).message
        errors.set(why, (errors.get(why) ?? 0) + 1)
      }
    }
  }))
  return { kind: 'opened', opened: specs.length - failed, failed, errors: Object.fromEntries(errors), ms: performance.now() - started }
}

async function echo (group: string, durationMs: number, message: string): Promise<WorkerReply> {
  const list = groups.get(group) ?? []
  const hist = new Uint32Array(RTT_BUCKETS)
  const state = { deadline: performance.now() + durationMs, message, count: 0, bad: 0, hist, inFlight: list.length, done: () => {} }
  const finished = new Promise<void>((resolve) => { state.done = resolve })
  loop = state
  const started = performance.now()
  for (const conn of list) {
    conn.sentAt = performance.now()
    conn.ws.send(message)
  }
  if (list.length === 0) state.done()
  // A reply that never comes (a closed socket) must not hang the bench.
  const timeout = setTimeout(() => { state.done() }, durationMs + 10_000)
  await finished
  clearTimeout(timeout)
  const elapsedMs = performance.now() - started
  loop = null
  const buckets: Array<[number, number]> = []
  hist.forEach((n, i) => { if (n > 0) buckets.push([i, n]) })
  return { kind: 'echoed', count: state.count, elapsedMs, buckets, lost: state.inFlight }
}

async function subscribe (group: string, channel: string, count: number): Promise<WorkerReply> {
  const list = (groups.get(group) ?? []).slice(0, count)
  let ok = 0
  await Promise.all(list.map(async (conn) => await new Promise<void>((resolve) => {
    const onMessage = (data: Buffer): void => {
      if (data[0] !== 0x7b) return
      const text = data.toString('utf8')
      if (!text.includes('"subscribed"')) return
      conn.ws.off('message', onMessage)
      ok++
      resolve()
    }
    conn.ws.on('message', onMessage)
    conn.ws.send(JSON.stringify({ type: 'subscribe', channel }))
    setTimeout(() => { conn.ws.off('message', onMessage); resolve() }, 10_000).unref()
  })))
  fanoutExpect = ok
  receipts.clear()
  return { kind: 'subscribed', subscribed: ok }
}

async function close (group: string): Promise<WorkerReply> {
  const list = groups.get(group) ?? []
  groups.delete(group)
  await Promise.all(list.map(async ({ ws }) => await new Promise<void>((resolve) => {
    if (ws.readyState === WebSocket.CLOSED) { resolve(); return }
    const timer = setTimeout(() => { ws.terminate(); resolve() }, 5_000)
    ws.once('close', () => { clearTimeout(timer); resolve() })
    ws.close(1000)
  })))
  return { kind: 'closed', closed: list.length }
}

process.on('message', (msg: WorkerRequest & { id: number }) => {
  const run = async (): Promise<WorkerReply> => {
    switch (msg.kind) {
      case 'open': return await open(msg.group, msg.specs, msg.concurrency, msg.timeoutMs)
      case 'echo': return await echo(msg.group, msg.durationMs, msg.message)
      case 'subscribe': return await subscribe(msg.group, msg.channel, msg.count)
      case 'fanout-receipts': {
        const out: FanoutReceipt[] = []
        for (const [seq, times] of receipts) out.push({ seq, times })
        receipts.clear()
        return { kind: 'receipts', receipts: out }
      }
      case 'close': return await close(msg.group)
    }
  }
  run().then((reply) => { process.send!({ ...reply, id: msg.id }) }, (err: unknown) => {
    process.send!({ kind: 'error', message: String(err), id: msg.id })
  })
})
process.on('disconnect', () => { process.exit(0) })
