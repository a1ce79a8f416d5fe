import { OptionsInvalidError } from './errors.js'

// Option checks shared by the client and the token providers: bad options throw at construction.

export function requireString (name: string, value: unknown): string {
  if (typeof value !== 'string' || value.length === 0) throw new OptionsInvalidError(`${name} must be a non-empty string`)
  return value
}

export function intOption (name: string, value: unknown, fallback: number, min: number): number {
  if (value === undefined) return fallback
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min) {
    throw new OptionsInvalidError(`${name} must be an integer >= ${min}`)
  }
  return value
}

export function functionOption<F extends (...args: never[]) => unknown> (name: string, value: unknown, fallback?: F): F {
  if (value === undefined && fallback !== undefined) return fallback
  if (typeof value !== 'function') throw new OptionsInvalidError(`${name} must be a function`)
  return value as F
}

export function requireObject<T extends object> (name: string, value: T | undefined | null): T {
  if (typeof value !== 'object' || value === null) throw new OptionsInvalidError(`${name} must be an object`)
  return value
}
