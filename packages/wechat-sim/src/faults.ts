import { FaultInvalidError, UnknownApiPathError } from './errors.js'

/** What POST /sim/faults and `simState.faults.add()` accept. */
export interface FaultSpec {
  /** API path as WeChat names it, e.g. '/sns/jscode2session' (no query string). */
  path: string
  /** Answer `{ errcode, errmsg }` instead of the real result; -1 is WeChat's "system error". */
  errcode?: number
  /** Overrides the usual errmsg for errcode. */
  errmsg?: string
  /** Wait this long before answering (or before running the real handler when there is no errcode). */
  delayMs?: number
  /** How many calls this fault applies to. Default 1. */
  count?: number
}

/** The fault a single call gets. */
export interface Fault {
  errcode?: number
  errmsg?: string
  delayMs: number
}

interface Queued extends Fault {
  remaining: number
}

export const MAX_FAULT_DELAY_MS = 120_000
export const MAX_FAULT_COUNT = 100_000

/**
 * Fault queues per API path. Each call to a path takes one use of the oldest fault queued for it, so
 * `add({ path, errcode: -1 })` then `add({ path, delayMs: 500 })` fails one call and slows the next.
 */
export class Faults {
  readonly #queues = new Map<string, Queued[]>()
  readonly #knownPaths: ReadonlySet<string>

  /** `knownPaths` is the live set of simulated API paths; faults for other paths are refused. */
  constructor (knownPaths: ReadonlySet<string>) {
    this.#knownPaths = knownPaths
  }

  /** Returns how many faulty calls are now pending for the path. */
  add (spec: FaultSpec): number {
    const { path, errcode, errmsg, delayMs = 0, count = 1 } = spec
    if (typeof path !== 'string' || !this.#knownPaths.has(path)) throw new UnknownApiPathError(String(path))
    if (errcode !== undefined && (!Number.isInteger(errcode) || errcode === 0)) throw new FaultInvalidError('errcode must be a non-zero integer')
    if (errmsg !== undefined && errcode === undefined) throw new FaultInvalidError('errmsg needs an errcode')
    if (!Number.isInteger(delayMs) || delayMs < 0 || delayMs > MAX_FAULT_DELAY_MS) throw new FaultInvalidError(`delayMs must be an integer in 0..${MAX_FAULT_DELAY_MS}`)
    if (!Number.isInteger(count) || count < 1 || count > MAX_FAULT_COUNT) throw new FaultInvalidError(`count must be an integer in 1..${MAX_FAULT_COUNT}`)
    if (errcode === undefined && delayMs === 0) throw new FaultInvalidError('give an errcode, a delayMs or both')
    let queue = this.#queues.get(path)
    if (queue === undefined) {
      queue = []
      this.#queues.set(path, queue)
    }
    const fault: Queued = { delayMs, remaining: count }
    if (errcode !== undefined) fault.errcode = errcode
    if (errmsg !== undefined) fault.errmsg = errmsg
    queue.push(fault)
    return this.pending(path)
  }

  /** Consumes one use of the next fault for this path, if any. */
  take (path: string): Fault | undefined {
    const queue = this.#queues.get(path)
    const head = queue?.[0]
    if (queue === undefined || head === undefined) return undefined
    if (--head.remaining === 0) queue.shift()
    if (queue.length === 0) this.#queues.delete(path)
    const { remaining: _, ...fault } = head
    return fault
  }

  /** Faulty calls still pending, for one path or all of them. */
  pending (path?: string): number {
    const queues = path === undefined ? [...this.#queues.values()] : [this.#queues.get(path) ?? []]
    return queues.flat().reduce((n, q) => n + q.remaining, 0)
  }

  clear (path?: string): void {
    if (path === undefined) this.#queues.clear()
    else this.#queues.delete(path)
  }
}
