import createError from '@fastify/error'
import { mongoServerErrorCode } from './mongo-indexes.js'

// How long a request may wait for MongoDB, and how a database that did not answer is told to the client.
// By shape, not by the driver's classes: common stays free of the driver.

/** MONGO_OP_TIMEOUT_MS's default: a read the server has not finished by then is stopped (maxTimeMS). */
export const DEFAULT_MONGO_OP_TIMEOUT_MS = 5000
/** MongoDB's code for an operation stopped by its maxTimeMS. */
export const MAX_TIME_MS_EXPIRED = 50

/** Answered for a request whose database did not answer (the error handler maps the driver's errors to it). */
export const StoreUnavailableError = createError('COMMON_STORE_UNAVAILABLE', 'The database did not answer in time, retry later', 503)

/**
 * The driver's errors for a database that did not answer: no server selectable in time (a primary gone,
 * an election), a socket that timed out or broke, a client-side operation timeout, or the server stopping
 * an operation at its maxTimeMS.
 */
const UNAVAILABLE_NAMES = new Set(['MongoServerSelectionError', 'MongoNetworkTimeoutError', 'MongoNetworkError', 'MongoOperationTimeoutError'])

export function isStoreUnavailable (err: unknown): boolean {
  if (typeof err !== 'object' || err === null) return false
  const name = (err as { name?: unknown }).name
  if (typeof name === 'string' && UNAVAILABLE_NAMES.has(name)) return true
  return mongoServerErrorCode(err) === MAX_TIME_MS_EXPIRED
}

/**
 * The client options every service connects with. A stalled primary cannot hold a request forever: reads
 * carry maxTimeMS (the repositories), and the socket time-out is the backstop for everything else (writes,
 * a server that stopped answering at all), longer than maxTimeMS so the server's own answer comes first.
 */
export function mongoClientOptions (appName: string, opTimeoutMs: number): { appName: string, ignoreUndefined: boolean, serverSelectionTimeoutMS: number, socketTimeoutMS: number, connectTimeoutMS: number } {
  return {
    appName,
    // An undefined field is left out, not stored as null: what comes back is what the memory stores give back.
    ignoreUndefined: true,
    // A request that finds no server (a primary gone) waits no longer than a read may take.
    serverSelectionTimeoutMS: opTimeoutMs,
    socketTimeoutMS: Math.max(3 * opTimeoutMs, 30_000),
    connectTimeoutMS: 10_000
  }
}

/** What every MongoDB repository takes: MONGO_OP_TIMEOUT_MS, the maxTimeMS of its reads. */
export interface MongoRepositoryOptions {
  opTimeoutMs?: number
}
