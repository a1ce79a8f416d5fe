import Type from 'typebox'
import { AGENT_LOGIN_PATTERN, PASSWORD_MAX_LENGTH } from '../../config.js'
import { DISPLAY_NAME_PATTERN } from '../../schemas.js'

// Bodies and parameters of the console routes (docs/console.md#http-api): every string bounded.

/** A login as an admin gives it: 1-64 of [a-z0-9._-] (upper case is lowered). */
export const AgentLogin = Type.String({ minLength: 1, maxLength: 64, pattern: AGENT_LOGIN_PATTERN })
/** Trimmed before it is stored. */
export const DisplayName = Type.String({ minLength: 1, maxLength: 64, pattern: DISPLAY_NAME_PATTERN })
export const Role = Type.Union([Type.Literal('admin'), Type.Literal('agent')])
/** A new password: bounded here, its policy (12-256 characters) checked by the service for SESSION_PASSWORD_WEAK. */
export const NewPassword = Type.String({ maxLength: 1024 })
/** A password to check: none longer than the policy's maximum exists. */
export const GivenPassword = Type.String({ minLength: 1, maxLength: PASSWORD_MAX_LENGTH })

export const LoginBody = Type.Object({
  // No pattern: a login that cannot exist is the same 401 as one that does not.
  login: Type.String({ minLength: 1, maxLength: 64 }),
  password: GivenPassword
}, { additionalProperties: false })

export const AgentIdParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9-]+$' }) })

export const NewAgentBody = Type.Object({
  login: AgentLogin,
  displayName: DisplayName,
  role: Role,
  password: NewPassword
}, { additionalProperties: false })

export const AgentPatchBody = Type.Object({
  displayName: Type.Optional(DisplayName),
  role: Type.Optional(Role),
  disabled: Type.Optional(Type.Boolean())
}, { additionalProperties: false, minProperties: 1 })

export const PasswordBody = Type.Object({
  password: NewPassword,
  /** Required when an agent changes its own password; a console admin resets any without it. */
  currentPassword: Type.Optional(GivenPassword)
}, { additionalProperties: false })

/** WeChat openids are 28 characters of base64url; bounded with room to spare. */
export const OpenidParams = Type.Object({ openid: Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9_-]+$' }) })
