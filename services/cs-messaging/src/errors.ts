import createError from '@fastify/error'
import { exposeMessages } from '@weapp/common'

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
/** PUSH_DURABILITY=replicated: the push is on the primary but no replica confirmed it in time (WeChat retries; the retry is de-duplicated). */
export const PushNotReplicatedError = createError<[string]>('CS_PUSH_NOT_REPLICATED', 'The message was not confirmed by a Redis replica in time, retry later: %s', 503)
/** PUSH_DURABILITY=replicated: a worker's acknowledgement not on a replica yet (retried: a failover would undo it). */
export const AckNotReplicatedError = createError<[string]>('CS_ACK_NOT_REPLICATED', 'The acknowledgement was not confirmed by a Redis replica in time: %s', 503)

// ---- admin API ----
export const DeadLetterNotFoundError = createError<[string]>('CS_DEAD_LETTER_NOT_FOUND', 'Dead letter %s not found', 404)
/** A `before` cursor that this service did not hand out (or that was altered). */
export const CursorInvalidError = createError<[string]>('CS_CURSOR_INVALID', 'The before cursor is invalid: %s', 400)
/** GET /api/cs/media/:mediaId for a media_id WeChat does not know (errcode 40007): unknown, another app's, or expired. */
export const MediaNotFoundError = createError<[string]>('CS_MEDIA_NOT_FOUND', 'Media %s not found: unknown, another app\'s, or past its 3 days', 404)
/** POST /api/cs/media without a file in the form field `media`. */
export const MediaMissingError = createError<[string]>('CS_MEDIA_MISSING', 'No image to upload: %s', 400)
/** POST /api/cs/media whose body is not multipart/form-data. */
export const MediaNotMultipartError = createError('CS_MEDIA_NOT_MULTIPART', 'Upload the image as multipart/form-data with the file in the field "media"', 415)
/** The uploaded file is larger than MEDIA_UPLOAD_MAX_BYTES. */
export const MediaTooLargeError = createError<[number]>('CS_MEDIA_TOO_LARGE', 'The image is larger than %s bytes (MEDIA_UPLOAD_MAX_BYTES)', 413)
/** The uploaded file is not a JPEG, PNG or GIF image (checked by its bytes), or its declared type disagrees. */
export const MediaTypeUnsupportedError = createError<[string]>('CS_MEDIA_TYPE_UNSUPPORTED', 'Only JPEG, PNG and GIF images can be uploaded: %s', 415)
/** A multipart body that cannot be parsed, or with more parts than an upload needs. */
export const MediaUploadInvalidError = createError<[string]>('CS_MEDIA_UPLOAD_INVALID', 'The upload is malformed: %s', 400)

// ---- sending (the worker's auto-replies and the admin send API) ----
// CS_SEND_* come from our own window check, before WeChat is called (nothing was sent, no quota burned);
// WeChat's own answers pass through as the @weapp/wechat errors (WECHAT_SEND_WINDOW_CLOSED 409 for 45015,
// WECHAT_SEND_QUOTA_EXCEEDED 429 for 45047, WECHAT_OPENID_INVALID 400 for 40003, ...).
/** No open send window for the user (WeChat would answer 45015). */
export const SendWindowClosedError = createError<[string]>('CS_SEND_WINDOW_CLOSED', 'Not sent: no customer-service send window is open for %s (WeChat allows sends only within 48 h of a user message, 5 messages, or 1 min of entering the session, 2 messages); send with force: true to let WeChat decide', 409)
/** The window is open but its message quota is used up (WeChat would answer 45047). */
export const SendQuotaExceededError = createError<[string]>('CS_SEND_QUOTA_EXCEEDED', 'Not sent: the send window of %s is used up (5 messages per user message, 2 per session entry) until the user acts again; send with force: true to let WeChat decide', 429)
/** No OutboundSender is wired (no APP_SECRET, or the WeChat client lacks sendCustomMessage). */
export const OutboundNotWiredError = createError<[string]>('CS_OUTBOUND_NOT_WIRED', 'Outbound sending is not available: %s', 501)
// Our own configuration hint (APP_SECRET is not configured): shown on the 501 as it is. Every other 5xx
// (WeChat's WECHAT_BUSY, WECHAT_TIMEOUT, ... with its errmsg) is answered with a generic message.
exposeMessages(OutboundNotWiredError)

// ---- the agent console (/api/console) ----
/** A conversation, canned reply or card template that does not exist (the message names it). */
export const ConsoleNotFoundError = createError<[string]>('CS_CONSOLE_NOT_FOUND', 'Not found: %s', 404)
/** A card (a send or a card template) with a missing or empty field (the message names it). */
export const ConsoleCardInvalidError = createError<[string]>('CS_CONSOLE_CARD_INVALID', 'The card is incomplete: %s', 400)
/** A canned reply whose shortcut is taken. */
export const ConsoleDuplicateError = createError<[string]>('CS_CONSOLE_DUPLICATE', 'Already exists: %s', 409)
/** A bounded list (canned replies, card templates, a conversation's notes) is full. */
export const ConsoleLimitError = createError<[string]>('CS_CONSOLE_LIMIT', 'Limit reached: %s', 409)
/** Claiming or releasing a conversation another agent has (a console admin may force a claim). */
export const ConsoleClaimedError = createError<[string]>('CS_CONSOLE_CLAIMED', 'The conversation is assigned to %s', 409)

// ---- lifecycle and configuration ----
/** A plugin or module was given options it cannot work with. */
export const OptionsInvalidError = createError<[string]>('CS_OPTIONS_INVALID', 'Invalid cs-messaging options: %s', 500)
