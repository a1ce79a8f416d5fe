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
