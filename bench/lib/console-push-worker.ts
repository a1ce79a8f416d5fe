// pushAtRate (console-pushes.ts) in a child process of its own: the sender's clock readings (when each push
// was answered) are not delayed by the bench process's other work (Playwright's traffic with the pages).
// The child asks for a higher scheduling priority (nice −10, as root): on 2 cores shared with two browsers
// and five services it otherwise read its answers a second late while cs-messaging had answered within
// 0.1 s, so "answer → visible" started late. The sender is the measuring tool, not the system measured.
import { fork } from 'node:child_process'
import { setPriority } from 'node:os'
import { pushAtRate, type RatePushResult } from './console-pushes.js'

export interface WorkerPushOptions {
  callbackUrl: string
  secrets: { appId: string, pushToken: string, aesKey: string }
  rate: number
  durationSec: number
  openids: string[]
  /** Push n's text is `${textPrefix}${offset + n}${textSuffix}`, its mark `${textPrefix}${offset + n}`. */
  textPrefix: string
  textSuffix: string
  offset: number
}

type Reply = Omit<RatePushResult, 'acked' | 'posted'> & { acked: Array<[string, number]>, posted: Array<[string, number]> }

/** Runs the pushes in a child process (this file under tsx); resolves with pushAtRate's result. */
export async function pushAtRateInWorker (opts: WorkerPushOptions): Promise<RatePushResult> {
  const child = fork(new URL(import.meta.url).pathname, [], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
  try {
    const reply = await new Promise<Reply>((resolve, reject) => {
      child.once('message', (m) => { resolve(m as Reply) })
      child.once('error', reject)
      child.once('exit', (code, signal) => { reject(new Error(`the push sender exited (${signal ?? code}) without a result`)) })
      child.send(opts)
    })
    return { ...reply, acked: new Map(reply.acked), posted: new Map(reply.posted) }
  } finally {
    if (child.exitCode === null && child.signalCode === null) child.kill()
  }
}

/** nice −10 for this process; false when not allowed (not root), and the answer times may start late. */
function raisePriority (): boolean {
  try {
    setPriority(-10)
    return true
  } catch {
    return false
  }
}

if (process.send !== undefined && process.argv[1] === new URL(import.meta.url).pathname) {
  const raised = raisePriority()
  process.once('message', (o: WorkerPushOptions) => {
    void pushAtRate({
      callbackUrl: o.callbackUrl,
      secrets: o.secrets,
      rate: o.rate,
      durationSec: o.durationSec,
      openids: o.openids,
      textOf: (n) => `${o.textPrefix}${o.offset + n}${o.textSuffix}`,
      markOf: (n) => `${o.textPrefix}${o.offset + n}`
    }).then((result) => {
      const reply: Reply = { ...result, acked: [...result.acked], posted: [...result.posted], raisedPriority: raised }
      process.send!(reply, () => { process.disconnect() })
    })
  })
}
