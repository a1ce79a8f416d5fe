// The WeChat side of `pnpm bench:console`: signed, encrypted text pushes (safe mode, XML, as WeChat sends
// them, built with the simulator's buildPush) posted to the gateway's callback URL at a fixed rate, open loop
// (a slow answer never delays the next push), each with a unique mark in its text. For each push the sender
// notes Date.now() at the moment the callback's `success` answer arrived (the start of "push → visible") and
// when it was posted (a start the sender's own delays in reading answers cannot move), and how long each
// answer took as the sender saw it.
import { randomBytes } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import { buildPush } from '@weapp/wechat-sim'

export interface PushSecrets { appId: string, pushToken: string, aesKey: string }

export interface RatePushOptions {
  callbackUrl: string
  secrets: PushSecrets
  /** Pushes per second. */
  rate: number
  durationSec: number
  /** The users the pushes come from, in turn. */
  openids: readonly string[]
  /** The text of push n; it must carry the mark `markOf(n)`. */
  textOf: (n: number) => string
  markOf: (n: number) => string
  /** Pushes still unanswered after this are given up (WeChat waits 5 s). */
  timeoutMs?: number
}

export interface RatePushResult {
  sent: number
  /** mark → Date.now() when the callback answered `success`. */
  acked: Map<string, number>
  /** mark → Date.now() when the push was posted (every push handed out). */
  posted: Map<string, number>
  /** Post → answer (ms) of every push answered, whatever the answer. */
  answerMs: number[]
  /** Pushes given up after timeoutMs without an answer. */
  timedOut: number
  /** Answers other than 200 `success`, and failures, with an example. */
  failed: number
  failures: string[]
  /** The rate actually offered (pushes ÷ the seconds it took to hand them out). */
  offeredPerSec: number
  /** Whether the sender ran at a raised priority (console-push-worker.ts); absent when run in-process. */
  raisedPriority?: boolean
}

const TICK_MS = 5
const KEPT_FAILURES = 5

/** A 19-digit MsgId base of its own per run, so pushes of another run are never taken for duplicates. */
export function msgIdBase (): bigint {
  return 7_000_000_000_000_000_000n + BigInt(`0x${randomBytes(6).toString('hex')}`) * 1_000_000n
}

export async function pushAtRate (opts: RatePushOptions): Promise<RatePushResult> {
  const total = Math.max(1, Math.round(opts.rate * opts.durationSec))
  const base = msgIdBase()
  const ghId = `gh_${randomBytes(6).toString('hex')}`
  const acked = new Map<string, number>()
  const posted = new Map<string, number>()
  const answerMs: number[] = []
  let timedOut = 0
  const failures: string[] = []
  let failed = 0
  const inFlight = new Set<Promise<void>>()

  const send = async (n: number): Promise<void> => {
    const built = buildPush({
      url: opts.callbackUrl,
      token: opts.secrets.pushToken,
      encodingAESKey: opts.secrets.aesKey,
      mode: 'safe',
      format: 'xml',
      appId: opts.secrets.appId,
      message: {
        ToUserName: ghId,
        FromUserName: opts.openids[n % opts.openids.length]!,
        CreateTime: Math.floor(Date.now() / 1000),
        MsgType: 'text',
        Content: opts.textOf(n),
        MsgId: String(base + BigInt(n))
      }
    })
    const postedAt = Date.now()
    posted.set(opts.markOf(n), postedAt)
    try {
      const res = await fetch(built.url, {
        method: 'POST',
        headers: { 'content-type': built.contentType },
        body: built.body,
        signal: AbortSignal.timeout(opts.timeoutMs ?? 5000)
      })
      const text = await res.text()
      const at = Date.now()
      answerMs.push(at - postedAt)
      if (res.status === 200 && text === 'success') acked.set(opts.markOf(n), at)
      else fail(`${res.status} ${text.slice(0, 120)}`)
    } catch (err) {
      if ((err as Error).name === 'TimeoutError') timedOut++
      fail((err as Error).message)
    }
  }
  const fail = (why: string): void => {
    failed++
    if (failures.length < KEPT_FAILURES) failures.push(why)
  }

  const started = performance.now()
  let n = 0
  while (n < total) {
    const due = Math.min(total, Math.floor((performance.now() - started) * opts.rate / 1000) + 1)
    for (; n < due; n++) {
      const p = send(n).finally(() => inFlight.delete(p))
      inFlight.add(p)
    }
    if (n < total) await sleep(TICK_MS)
  }
  const handedOutSec = (performance.now() - started) / 1000
  await Promise.all(inFlight)
  return { sent: total, acked, posted, answerMs, timedOut, failed, failures, offeredPerSec: total / Math.max(handedOutSec, 1 / opts.rate) }
}
