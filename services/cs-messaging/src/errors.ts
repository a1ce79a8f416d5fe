import createError from '@fastify/error'

// Every error the cs-messaging service raises. Codes are stable: never reuse one for another meaning.
// Errors from @weapp/wechat (WECHAT_CIPHERTEXT_INVALID, WECHAT_APPID_MISMATCH) pass through unchanged.

// ---- the push URL (GET verification, POST delivery) ----
/** A query parameter WeChat always sends is missing or malformed (the message names it). */
export const PushQueryInvalidError = createError<[string]>('CS_PUSH_QUERY_INVALID', 'Push query is invalid: %s', 400)
/** `signature` (sha1 of Token, timestamp, nonce) does not match. */
export const SignatureInvalidError = createError('CS_SIGNATURE_INVALID', 'Push signature does not match', 401)
/** `msg_signature` (sha1 of Token, timestamp, nonce, Encrypt) does not match, or is missing. */
export const MsgSignatureInvalidError = createError<[string]>('CS_MSG_SIGNATURE_INVALID', 'Push msg_signature rejected: %s', 401)
/** The URL timestamp is further from our clock than PUSH_TIMESTAMP_WINDOW_SEC (either direction). */
export const TimestampStaleError = createError('CS_TIMESTAMP_STALE', 'Push timestamp is outside the accepted window', 401)
/** encrypt_type=aes, but no EncodingAESKey is configured (plaintext mode). */
export const EncryptionNotConfiguredError = createError('CS_ENCRYPTION_NOT_CONFIGURED', 'Encrypted push received but this service has no EncodingAESKey', 400)
/** A plaintext push while PUSH_ALLOW_PLAINTEXT=false (safe mode only). */
export const PlaintextRefusedError = createError('CS_PLAINTEXT_REFUSED', 'Plaintext pushes are refused: this service accepts encrypted pushes only', 400)
/** encrypt_type=aes without an Encrypt field in the body. */
export const EncryptMissingError = createError('CS_ENCRYPT_MISSING', 'Encrypted push without an Encrypt field', 400)
/** POST without a body. */
export const BodyEmptyError = createError('CS_BODY_EMPTY', 'Push body is empty', 400)
/** The body starts with neither `<` (XML) nor `{` (JSON). */
export const BodyFormatUnknownError = createError('CS_BODY_FORMAT_UNKNOWN', 'Push body is neither XML nor JSON', 400)
/** Unparseable XML/JSON, invalid UTF-8, too deeply nested, reserved property names, ... (the message says which). */
export const BodyMalformedError = createError<[string]>('CS_BODY_MALFORMED', 'Push body is malformed: %s', 400)
/** XML carrying a DOCTYPE or ENTITY declaration: never parsed. */
export const XmlForbiddenError = createError('CS_XML_FORBIDDEN', 'XML with a DOCTYPE or entity declaration is refused', 400)
/** A JSON number that cannot be kept exactly (huge, or an unsafe integer outside an id field). */
export const JsonNumberUnsafeError = createError<[string]>('CS_JSON_NUMBER_UNSAFE', 'JSON number cannot be represented exactly: %s', 400)
/** The (decrypted) message lacks a field every push has (ToUserName, FromUserName, CreateTime, MsgType). */
export const MessageInvalidError = createError<[string]>('CS_MESSAGE_INVALID', 'Push message is invalid: %s', 400)
/** The queue (Redis) could not record the message in time: WeChat will retry. Never answered with success. */
export const QueueUnavailableError = createError<[string]>('CS_QUEUE_UNAVAILABLE', 'The message could not be recorded, retry later: %s', 503)

// ---- admin API ----
export const DeadLetterNotFoundError = createError<[string]>('CS_DEAD_LETTER_NOT_FOUND', 'Dead letter %s not found', 404)

// ---- sending (used by the worker's auto-replies now, and by the admin send API) ----
/** No open send window for the user (WeChat would answer 45015). */
export const SendWindowClosedError = createError<[string]>('CS_SEND_WINDOW_CLOSED', 'No open send window for this user: %s', 409)
/** The window is open but its message quota is used up (WeChat would answer 45047). */
export const SendWindowExhaustedError = createError<[string]>('CS_SEND_WINDOW_EXHAUSTED', 'Send window quota used up for this user: %s', 409)
/** No OutboundSender is wired (no APP_SECRET, or the WeChat client lacks sendCustomMessage). */
export const OutboundNotWiredError = createError<[string]>('CS_OUTBOUND_NOT_WIRED', 'Outbound sending is not available: %s', 501)

// ---- lifecycle and configuration ----
/** A plugin or module was given options it cannot work with. */
export const OptionsInvalidError = createError<[string]>('CS_OPTIONS_INVALID', 'Invalid cs-messaging options: %s', 500)
