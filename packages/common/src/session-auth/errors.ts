import createError from '@fastify/error'

// The refusals of a client's session credential, answered alike by the gateway and by realtime-ws's direct
// upgrades (nginx sends /ws straight to realtime-ws): a client sees one code for one refusal, whichever
// process answered. The codes keep the gateway's names, which clients knew first. Expected and frequent:
// no stack trace.

/** No credential presented; %s says what the route takes. */
export const SessionAuthRequiredError = createError<[string]>('GATEWAY_AUTH_REQUIRED', 'Authentication required: %s', 401, Error, false)
/** The session credential is unknown, malformed, logged out, revoked or expired; %s says which. */
export const SessionCredentialInvalidError = createError<[string]>('GATEWAY_SESSION_INVALID', 'Session invalid: %s', 401, Error, false)
/** The client address used up its failed-lookup budget (failure-limit.ts); %d: seconds until it may try again. */
export const SessionAuthRateLimitedError = createError<[number]>('GATEWAY_AUTH_RATE_LIMITED', 'Too many failed authentications from this address, retry in %d s', 429, Error, false)

/** The hint of SessionAuthRequiredError for a user session. */
export const SESSION_TOKEN_HINT = 'send Authorization: Bearer <token>'
