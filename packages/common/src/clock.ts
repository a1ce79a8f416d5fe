/**
 * The current time in ms since the epoch. Every service takes one (its `clock` decorator) and asks it for
 * whatever depends on time (expiries, push timestamps, windows, retries), so tests can move time.
 */
export type Clock = () => number

export const systemClock: Clock = Date.now

/** The same clock as Dates, for code that stores or compares Date objects (repositories, windows). */
export function dateClock (clock: Clock): () => Date {
  return () => new Date(clock())
}
