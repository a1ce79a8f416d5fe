import { hash, timingSafeEqual } from 'node:crypto'

/** What a request presented as the internal credential: the right one, none, or another. */
export type InternalTokenVerdict = 'ok' | 'missing' | 'invalid'

/**
 * The one check of the internal credential (`x-internal-token`), for the shared internal-auth hook and for
 * the routes that run their own onRequest (realtime-ws upgrades). Digests are compared so that neither
 * the length nor the content of the token leaks through timing; the expected digest is made once, the
 * presented one with the one-shot `crypto.hash` (no Hash object per request: this runs on every request).
 */
export function internalTokenCheck (internalToken: string): (presented: unknown) => InternalTokenVerdict {
  if (typeof internalToken !== 'string' || internalToken.length < 32) {
    throw new Error('internalAuth: internalToken must be a string of at least 32 characters')
  }
  const expected = hash('sha256', internalToken, 'buffer')
  return (presented) => {
    if (typeof presented !== 'string') return 'missing'
    return timingSafeEqual(hash('sha256', presented, 'buffer'), expected) ? 'ok' : 'invalid'
  }
}
