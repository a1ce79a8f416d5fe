import { IDENTITY_HEADER, INTERNAL_TOKEN_HEADER, REQUEST_ID_HEADER, encodeIdentity, type Identity, type User } from '@weapp/common'

/** The name the greeting uses (`Server: 恭喜，<name>`). Must not throw: fall back to something printable. */
export type NicknameLookup = (identity: Identity, requestId: string) => Promise<string>

export interface HttpNicknameLookupOptions {
  sessionUrl: string
  internalToken: string
  timeoutMs: number
  onError?: (err: unknown) => void
}

/** Name a user profile shows: our own nickname, then the wafer userInfo nickName, then the openid. */
export function displayName (openid: string, user: Partial<User> | null): string {
  const nickname = user?.nickname
  if (typeof nickname === 'string' && nickname !== '') return nickname
  const wxName = user?.wxUserInfo?.nickName
  if (typeof wxName === 'string' && wxName !== '') return wxName
  return openid
}

/**
 * Asks the session service (GET /api/me on the internal hop, as the gateway would) for the profile.
 * Admin identities have no profile: their key label is the name. Any failure falls back to the openid.
 */
export function httpNicknameLookup ({ sessionUrl, internalToken, timeoutMs, onError }: HttpNicknameLookupOptions): NicknameLookup {
  const url = new URL('/api/me', sessionUrl).toString()
  return async (identity, requestId) => {
    if (identity.kind === 'admin') return identity.keyId
    if (identity.kind === 'agent') return identity.displayName
    try {
      const res = await fetch(url, {
        headers: {
          [INTERNAL_TOKEN_HEADER]: internalToken,
          [IDENTITY_HEADER]: encodeIdentity(identity),
          [REQUEST_ID_HEADER]: requestId,
          accept: 'application/json'
        },
        signal: AbortSignal.timeout(timeoutMs)
      })
      if (!res.ok) {
        await res.body?.cancel()
        throw new Error(`session service answered ${res.status}`)
      }
      return displayName(identity.openid, await res.json() as Partial<User>)
    } catch (err) {
      onError?.(err)
      return identity.openid
    }
  }
}
