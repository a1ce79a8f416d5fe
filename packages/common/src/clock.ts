/**
 * The current time in ms since the epoch. Every service takes one (its `clock` decorator) and asks it for
 * whatever depends on time (expiries, push timestamps, windows, retries), so tests can move time.
 */
export type Clock = () => number

export const systemClock: Clock = Date.now
