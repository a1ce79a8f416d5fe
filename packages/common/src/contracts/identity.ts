import Type, { type Static } from 'typebox'
import { Compile } from 'typebox/compile'

// Who a request is from, as established once by the gateway and forwarded to services
// (`x-weapp-identity`, docs/internals.md#identities). One schema: the session service serialises its
// answers with it, the gateway checks what the session service sent with it, and every service checks the
// forwarded header with it.

/** Which credential proved a user: our bearer token, wafer generation 1 (id+skey), wafer 2 (skey) or a ws ticket. */
export const IdentityViaSchema = Type.Union([Type.Literal('bearer'), Type.Literal('wafer1'), Type.Literal('wafer2'), Type.Literal('ticket')])

export const UserIdentitySchema = Type.Object({
  kind: Type.Literal('user'),
  openid: Type.String(),
  unionid: Type.Optional(Type.String()),
  /** Opaque id of the server-side session (never the token itself). */
  sessionId: Type.String(),
  via: IdentityViaSchema,
  /**
   * The session's absolute expiry (ISO 8601; login + SESSION_MAX_TTL_SEC), so a long-lived use of the
   * identity (an open WebSocket) can end when the session does. Absent in identities made before it existed.
   */
  absoluteExpiresAt: Type.Optional(Type.String({ format: 'date-time' }))
})

export const AdminIdentitySchema = Type.Object({
  kind: Type.Literal('admin'),
  /** Short, non-secret label of the admin key that was used. */
  keyId: Type.String()
})

/** A person answering users in the agent console (docs/console.md), proved by the console cookie. */
export const AgentIdentitySchema = Type.Object({
  kind: Type.Literal('agent'),
  agentId: Type.String(),
  login: Type.String(),
  displayName: Type.String(),
  role: Type.Union([Type.Literal('admin'), Type.Literal('agent')]),
  /** Opaque id of the agent session (never the cookie's value). */
  sessionId: Type.String(),
  /** The agent session's absolute expiry (ISO 8601): a console socket ends then at the latest. */
  absoluteExpiresAt: Type.String({ format: 'date-time' })
})

export const IdentitySchema = Type.Union([UserIdentitySchema, AdminIdentitySchema, AgentIdentitySchema])

export type UserIdentity = Static<typeof UserIdentitySchema>
export type AdminIdentity = Static<typeof AdminIdentitySchema>
export type AgentIdentity = Static<typeof AgentIdentitySchema>
export type AgentRole = AgentIdentity['role']
export type Identity = Static<typeof IdentitySchema>

// Compiled once: decodeIdentity runs on every request of every service.
const identityCheck = Compile(IdentitySchema)
const userIdentityCheck = Compile(UserIdentitySchema)

export function isIdentity (value: unknown): value is Identity {
  return identityCheck.Check(value)
}

export function isUserIdentity (value: unknown): value is UserIdentity {
  return userIdentityCheck.Check(value)
}
