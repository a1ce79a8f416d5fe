/**
 * Token buckets for the frames clients send: one per socket and one per user (principal) on this instance.
 * Each holds a second's worth of frames and refills continuously, so a client may burst up to its rate
 * and sustain its rate, and nothing more.
 */
class Bucket {
  tokens: number
  last: number
  readonly #rate: number

  constructor (rate: number, now: number) {
    this.#rate = rate
    this.tokens = rate
    this.last = now
  }

  refill (now: number): void {
    const elapsed = now - this.last
    if (elapsed <= 0) return
    this.last = now
    this.tokens = Math.min(this.#rate, this.tokens + elapsed * this.#rate / 1000)
  }
}

interface UserBucket { bucket: Bucket, sockets: number }

export interface FrameLimits {
  perSocket: number
  perUser: number
}

/** The budget of one socket: take() for every frame it sends, release() once when it closes. */
export interface FrameBudget {
  /** false: over the socket's or the user's rate (and every later call too): drop the frame, close the socket. */
  take (): boolean
  release (): void
}

export class FrameLimiter {
  readonly #limits: FrameLimits
  readonly #now: () => number
  readonly #users = new Map<string, UserBucket>()

  constructor (limits: FrameLimits, now: () => number = performance.now.bind(performance)) {
    this.#limits = limits
    this.#now = now
  }

  /** Users with an open budget (tests, metrics). */
  get users (): number { return this.#users.size }

  open (principal: string): FrameBudget {
    const now = this.#now()
    let user = this.#users.get(principal)
    if (user === undefined) {
      user = { bucket: new Bucket(this.#limits.perUser, now), sockets: 0 }
      this.#users.set(principal, user)
    }
    user.sockets++
    const mine = new Bucket(this.#limits.perSocket, now)
    const users = this.#users
    const clock = this.#now
    const shared = user
    let over = false
    let released = false
    return {
      take (): boolean {
        if (over) return false
        const t = clock()
        mine.refill(t)
        shared.bucket.refill(t)
        if (mine.tokens < 1 || shared.bucket.tokens < 1) {
          over = true
          return false
        }
        mine.tokens--
        shared.bucket.tokens--
        return true
      },
      release (): void {
        if (released) return
        released = true
        if (--shared.sockets === 0 && users.get(principal) === shared) users.delete(principal)
      }
    }
  }
}
