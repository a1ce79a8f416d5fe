import createError from '@fastify/error'

// Every error this package raises. Codes are stable: never reuse one for another meaning.

export const ConfigInvalidError = createError<[string]>('COMMON_CONFIG_INVALID', 'Invalid configuration: %s')
export const InternalAuthMissingError = createError('COMMON_INTERNAL_AUTH_MISSING', 'Internal credential missing', 401)
export const InternalAuthInvalidError = createError('COMMON_INTERNAL_AUTH_INVALID', 'Internal credential invalid', 401)
export const IdentityMalformedError = createError('COMMON_IDENTITY_MALFORMED', 'Forwarded identity is malformed', 400)
export const AuthRequiredError = createError<[string]>('COMMON_AUTH_REQUIRED', 'Authentication required: %s', 401)
export const ForbiddenError = createError<[string]>('COMMON_FORBIDDEN', 'Forbidden: %s', 403)
export const NotFoundError = createError<[string, string]>('COMMON_NOT_FOUND', 'Route %s:%s not found', 404)
