// The client side of `pnpm bench:ws`: one or more client processes (ws-client-worker.ts), each its own
// Node process so its CPU can be read from /proc like the servers', driven over IPC from the bench.
import { spawn, type ChildProcess } from 'node:child_process'
import { cpuMicros } from './processes.js'

/** RTT histogram: 10 µs buckets up to 5 s (the last bucket takes everything slower). */
export const RTT_BUCKET_US = 10
export const RTT_BUCKETS = 500_000

export interface OpenSpec { url: string, headers?: Record<string, string> }
export interface FanoutReceipt { seq: number, times: number[] }

export type WorkerRequest =
  | { kind: 'open', group: string, specs: OpenSpec[], concurrency: number, timeoutMs: number }
  | { kind: 'echo', group: string, durationMs: number, message: string }
  | { kind: 'subscribe', group: string, channel: string, count: number }
  | { kind: 'fanout-receipts' }
  | { kind: 'close', group: string }

export type WorkerReply =
  | { kind: 'opened', opened: number, failed: number, errors: Record<string, number>, ms: number }
  | { kind: 'echoed', count: number, elapsedMs: number, buckets: Array<[number, number]>, lost: number }
  | { kind: 'subscribed', subscribed: number }
  | { kind: 'receipts', receipts: FanoutReceipt[] }
  | { kind: 'closed', closed: number }
  | { kind: 'error', message: string }
  | { kind: 'fanout-complete', seq: number }

type Reply<K extends WorkerReply['kind']> = Extract<WorkerReply, { kind: K }>

export class ClientWorker {
  readonly child: ChildProcess
  readonly #waiting = new Map<number, (reply: WorkerReply) => void>()
  #nextId = 0
  /** Called with the sequence number each time this worker's subscribed sockets all have an event. */
  onFanoutComplete: (seq: number) => void = () => {}

  constructor (readonly name: string, env: Record<string, string> = {}) {
    this.child = spawn(process.execPath, ['--import', 'tsx', new URL('./ws-client-worker.ts', import.meta.url).pathname], {
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      env: { ...process.env, ...env }
    })
    this.child.on('message', (msg: WorkerReply & { id?: number }) => {
      if (msg.kind === 'fanout-complete') { this.onFanoutComplete(msg.seq); return }
      const resolve = this.#waiting.get(msg.id!)
      this.#waiting.delete(msg.id!)
      resolve?.(msg)
    })
    this.child.on('exit', (code) => {
      for (const resolve of this.#waiting.values()) resolve({ kind: 'error', message: `client worker exited with ${code}` })
      this.#waiting.clear()
    })
  }

  get pid (): number { return this.child.pid! }
  cpu (): number { return cpuMicros(this.pid) }

  async request<K extends WorkerReply['kind']> (req: WorkerRequest, expect: K): Promise<Reply<K>> {
    const id = ++this.#nextId
    const reply = await new Promise<WorkerReply>((resolve) => {
      this.#waiting.set(id, resolve)
      this.child.send({ ...req, id })
    })
    if (reply.kind === 'error') throw new Error(`${this.name}: ${reply.message}`)
    if (reply.kind !== expect) throw new Error(`${this.name}: expected ${expect}, got ${reply.kind}`)
    return reply as Reply<K>
  }

  stop (): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGTERM')
  }
}

/** Client processes sharing the work: specs are dealt round-robin, results added up. */
export class ClientPool {
  readonly workers: ClientWorker[]

  constructor (count: number, env: Record<string, string> = {}) {
    this.workers = Array.from({ length: count }, (_, i) => new ClientWorker(`client-${i + 1}`, env))
  }

  cpu (): number { return this.workers.reduce((sum, w) => sum + w.cpu(), 0) }

  async open (group: string, specs: OpenSpec[], concurrency = 100, timeoutMs = 30_000): Promise<{ opened: number, failed: number, errors: Record<string, number>, ms: number }> {
    const n = this.workers.length
    const replies = await Promise.all(this.workers.map(async (w, i) => await w.request({
      kind: 'open',
      group,
      specs: specs.filter((_, j) => j % n === i),
      concurrency: Math.ceil(concurrency / n),
      timeoutMs
    }, 'opened')))
    const errors: Record<string, number> = {}
    for (const r of replies) for (const [k, v] of Object.entries(r.errors)) errors[k] = (errors[k] ?? 0) + v
    return {
      opened: replies.reduce((s, r) => s + r.opened, 0),
      failed: replies.reduce((s, r) => s + r.failed, 0),
      errors,
      ms: Math.max(...replies.map((r) => r.ms))
    }
  }

  /** The closed echo loop on every socket of the group, in every worker at once. */
  async echo (group: string, durationMs: number, message: string): Promise<EchoResult> {
    const replies = await Promise.all(this.workers.map(async (w) => await w.request({ kind: 'echo', group, durationMs, message }, 'echoed')))
    const hist = new Map<number, number>()
    for (const r of replies) for (const [b, n] of r.buckets) hist.set(b, (hist.get(b) ?? 0) + n)
    const count = replies.reduce((s, r) => s + r.count, 0)
    const elapsedMs = Math.max(...replies.map((r) => r.elapsedMs))
    return { count, perSec: count / (elapsedMs / 1000), p50Ms: percentile(hist, count, 0.5), p99Ms: percentile(hist, count, 0.99), lost: replies.reduce((s, r) => s + r.lost, 0) }
  }

  async subscribe (group: string, channel: string, count: number): Promise<number> {
    const n = this.workers.length
    const replies = await Promise.all(this.workers.map(async (w, i) => await w.request({
      kind: 'subscribe', group, channel, count: Math.floor(count / n) + (i < count % n ? 1 : 0)
    }, 'subscribed')))
    return replies.reduce((s, r) => s + r.subscribed, 0)
  }

  async receipts (): Promise<Map<number, number[]>> {
    const all = new Map<number, number[]>()
    for (const w of this.workers) {
      const { receipts } = await w.request({ kind: 'fanout-receipts' }, 'receipts')
      for (const { seq, times } of receipts) all.set(seq, [...(all.get(seq) ?? []), ...times])
    }
    return all
  }

  async close (group: string): Promise<number> {
    const replies = await Promise.all(this.workers.map(async (w) => await w.request({ kind: 'close', group }, 'closed')))
    return replies.reduce((s, r) => s + r.closed, 0)
  }

  stop (): void { for (const w of this.workers) w.stop() }
}

export interface EchoResult {
  count: number
  perSec: number
  p50Ms: number
  p99Ms: number
  /** Echo requests still unanswered when the loop ended (should be 0). */
  lost: number
}

/** The upper edge of the histogram bucket holding the q-quantile, in ms. */
function percentile (hist: Map<number, number>, count: number, q: number): number {
  const target = Math.ceil(count * q)
  let seen = 0
  for (const b of [...hist.keys()].sort((a, c) => a - c)) {
    seen += hist.get(b)!
    if (seen >= target) return ((b + 1) * RTT_BUCKET_US) / 1000
  }
  return Number.NaN
}
