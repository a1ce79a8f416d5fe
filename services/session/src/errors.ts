import createError from '@fastify/error'

// Every error the session service raises. Codes are stable: never reuse one for another meaning.

/** Unknown, expired or revoked session credential (the message says which). */
export const SessionInvalidError = createError<[string]>('SESSION_INVALID', 'Session invalid: %s', 401)
/** The identity names a user we have no record of (deleted, or a database that was reset). */
export const UserNotFoundError = createError('SESSION_USER_NOT_FOUND', 'User not found', 404)
/** WeChat rejected the getPhoneNumber code (forged, used, expired or another user's). */
export const PhoneCodeInvalidError = createError<[string]>('SESSION_PHONE_CODE_INVALID', 'Phone number code rejected: %s', 400)
/** A wafer login request lacks a header it needs. */
export const WaferHeaderMissingError = createError<[string]>('SESSION_WAFER_HEADER_MISSING', 'Wafer login header missing: %s', 400)
/** loginWithCode (wafer 2) for a user who never logged in with user info. */
export const WaferUserUnknownError = createError('SESSION_WAFER_USER_UNKNOWN', 'No user info stored for this WeChat user: log in with user info first', 401)
/** A plugin was registered with options it cannot work with. */
export const OptionsInvalidError = createError<[string]>('SESSION_OPTIONS_INVALID', 'Invalid session service options: %s', 500)

// ---- The agent console (docs/console.md) ----

/** A console login with an unknown login or a wrong password: one answer for both, so neither is revealed. */
export const ConsoleLoginFailedError = createError('SESSION_CONSOLE_LOGIN_FAILED', 'Login or password is wrong', 401)
/** The right password of a disabled agent (said only after the password checked out). */
export const AgentDisabledError = createError('SESSION_AGENT_DISABLED', 'This agent account is disabled', 403)
/** A console cookie that names no live session: unknown, logged out, expired, or its agent disabled. */
export const ConsoleSessionInvalidError = createError<[string]>('SESSION_CONSOLE_SESSION_INVALID', 'Console session invalid: %s', 401)
export const AgentExistsError = createError<[string]>('SESSION_AGENT_EXISTS', 'An agent with the login %s already exists', 409)
export const AgentNotFoundError = createError('SESSION_AGENT_NOT_FOUND', 'Agent not found', 404)
/** The change would leave no enabled console admin (nobody could manage agents any more). */
export const LastAdminError = createError('SESSION_LAST_ADMIN', 'The last enabled console admin cannot be disabled or demoted', 409)
export const PasswordWeakError = createError<[string]>('SESSION_PASSWORD_WEAK', 'Password refused: %s', 400)
/** An agent changing its own password sent a wrong (or no) current password. */
export const CurrentPasswordWrongError = createError('SESSION_CURRENT_PASSWORD_WRONG', 'The current password is wrong', 403)
/** The agent store is full (MAX_AGENTS): a bound, not a licence. */
export const AgentLimitError = createError<[number]>('SESSION_AGENT_LIMIT', 'No more than %d agents', 409)
/** Too many password checks are waiting (each takes 128 MiB for a few hundred ms): try again shortly. */
export const PasswordBusyError = createError('SESSION_PASSWORD_BUSY', 'Too many logins at once: try again in a moment', 503)
