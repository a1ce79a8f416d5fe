import { createHash, timingSafeEqual } from 'node:crypto'

/** What a request presented as the internal credential: the right one, none, or another. */
export type InternalTokenVerdict = 'ok' | 'missing' | 'invalid'

/**
 * The one check of the internal credential (`x-internal-token`), for the shared internal-auth hook and for
 * the routes that run their own onRequest (realtime-ws upgrades). Digests are compared so that neither
 * the length nor the content of the token leaks through timing.
 */
export function internalTokenCheck (internalToken: string): (presented: unknown) => InternalTokenVerdict {
  if (typeof internalToken !== 'string' || internalToken.length < 32) {
    throw new Error('internalAuth: internalToken must be a string of at least 32 characters')
  }
  const expected = createHash('sha256').update(internalToken).digest()
  return (presented) => {
    if (typeof presented !== 'string') return 'missing'
    return timingSafeEqual(createHash('sha256').update(presented).digest(), expected) ? 'ok' : 'invalid'
  }
}
