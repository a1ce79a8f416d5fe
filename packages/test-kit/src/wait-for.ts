import { setTimeout as sleep } from 'node:timers/promises'

export interface WaitForOptions {
  /** How long to keep polling, ms. */
  timeoutMs?: number
  /** What is awaited, for the timeout message ("timed out after 3000 ms waiting for <what>"). */
  what?: string
  /** Pause between two polls, ms. */
  intervalMs?: number
}

type Truthy<T> = Exclude<T, false | null | undefined | 0 | ''>

/**
 * Polls `condition` (sync or async) until it returns a truthy value, and returns that value; throws after
 * `timeoutMs` with a message naming `what` was awaited, so a failed wait says what never happened.
 */
export async function waitFor<T> (condition: () => T | Promise<T>, { timeoutMs = 5000, what = 'a condition', intervalMs = 10 }: WaitForOptions = {}): Promise<Truthy<T>> {
  // Monotonic: a step of the wall clock (a VM's clock corrected) must not end a wait early (CI once timed out a
  // 5 s wait 0.8 s into its test).
  const deadline = performance.now() + timeoutMs
  for (;;) {
    const value = await condition()
    if (value) return value as Truthy<T>
    if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await sleep(intervalMs)
  }
}
