import Type from 'typebox'

// The shared error body lives in @weapp/common; re-exported so routes import their schemas from one place.
export { ErrorSchema, errorResponses } from '@weapp/common'

/** An inbound message as WeChat sent it: the common fields, everything else kept. */
export const InboundMessageSchema = Type.Object({
  ToUserName: Type.String(),
  FromUserName: Type.String(),
  CreateTime: Type.Integer(),
  MsgType: Type.String(),
  MsgId: Type.Optional(Type.String()),
  Event: Type.Optional(Type.String())
}, { additionalProperties: true })

/**
 * A push URL parameter as Fastify parses it: a string, or an array when repeated. Everything is optional
 * here: the decoder names what is missing or malformed with its own stable code (CS_PUSH_QUERY_INVALID).
 */
const QueryParam = Type.Optional(Type.Union([Type.String(), Type.Array(Type.String(), { maxItems: 16 })]))

/** The push URL's query (docs/wechat/push.md#url-verification, docs/wechat/push.md#deliveries); unknown parameters are allowed (WeChat may add some). */
export const PushQuerySchema = Type.Object({
  signature: QueryParam,
  timestamp: QueryParam,
  nonce: QueryParam,
  echostr: QueryParam,
  encrypt_type: QueryParam,
  msg_signature: QueryParam,
  openid: QueryParam
}, { additionalProperties: true })

// ---- the admin send API (docs/wechat/api.md#customer-service) ----

/** An openid: 28 characters of [A-Za-z0-9_-] in practice; a little room is left. */
export const OpenidSchema = Type.String({ pattern: '^[A-Za-z0-9_-]{1,64}$' })
/** A temporary media_id (media/upload's answer): letters, digits, _ and -. */
export const MediaIdSchema = Type.String({ pattern: '^[A-Za-z0-9_-]{1,256}$' })

/** Customer-service text: 1 to 2048 characters (may hold `<a href data-miniprogram-…>` links). */
export const TEXT_MAX_CHARS = 2048

const content = <T extends Record<string, ReturnType<typeof Type.String>>>(fields: T) => Type.Object(fields, { additionalProperties: false })
const force = Type.Optional(Type.Boolean({ description: 'Skip our send-window check and let WeChat decide' }))

export const SendTextBody = Type.Object({
  touser: OpenidSchema,
  msgtype: Type.Literal('text'),
  text: content({ content: Type.String({ minLength: 1, maxLength: TEXT_MAX_CHARS }) }),
  force
}, { additionalProperties: false })

export const SendImageBody = Type.Object({
  touser: OpenidSchema,
  msgtype: Type.Literal('image'),
  image: content({ media_id: MediaIdSchema }),
  force
}, { additionalProperties: false })

export const SendLinkBody = Type.Object({
  touser: OpenidSchema,
  msgtype: Type.Literal('link'),
  link: content({
    title: Type.String({ minLength: 1, maxLength: 256 }),
    description: Type.String({ minLength: 1, maxLength: 1024 }),
    /** Where the card leads: https only. */
    url: Type.String({ maxLength: 2048, pattern: '^https://[^\\s]+$' }),
    /** The card's picture (JPG/PNG). */
    thumb_url: Type.String({ maxLength: 2048, pattern: '^https?://[^\\s]+$' })
  }),
  force
}, { additionalProperties: false })

export const SendMiniprogrampageBody = Type.Object({
  touser: OpenidSchema,
  msgtype: Type.Literal('miniprogrampage'),
  miniprogrampage: content({
    title: Type.String({ minLength: 1, maxLength: 256 }),
    /** A page of this mini-program, e.g. pages/index/index?foo=bar. */
    pagepath: Type.String({ maxLength: 1024, pattern: '^[^\\s]+$' }),
    /** The cover: a media_id from POST /api/cs/media. */
    thumb_media_id: MediaIdSchema
  }),
  force
}, { additionalProperties: false })

/** The send body per msgtype (validated by msgtype: see discriminatedBodyCompiler). */
export const SEND_BODIES = {
  text: SendTextBody,
  image: SendImageBody,
  link: SendLinkBody,
  miniprogrampage: SendMiniprogrampageBody
} as const

export const SendBody = Type.Union([SendTextBody, SendImageBody, SendLinkBody, SendMiniprogrampageBody])

export const OutboundOutcomeSchema = Type.Union([
  Type.Literal('pending'), Type.Literal('sent'), Type.Literal('refused'), Type.Literal('rejected'), Type.Literal('failed'), Type.Literal('unknown')
])

export const TypingBody = Type.Object({
  touser: OpenidSchema,
  command: Type.Union([Type.Literal('Typing'), Type.Literal('CancelTyping')])
}, { additionalProperties: false })

/** A message of the log, either direction, as the conversations API shows it. */
export const MessageItemSchema = Type.Object({
  id: Type.String(),
  direction: Type.Union([Type.Literal('in'), Type.Literal('out')]),
  openid: Type.String(),
  msgType: Type.String(),
  createdAt: Type.String({ format: 'date-time' }),
  /** in: the push as WeChat sent it; out: the send body (msgtype and its content). */
  message: Type.Object({}, { additionalProperties: true }),
  event: Type.Optional(Type.String()),
  receivedAt: Type.Optional(Type.String({ format: 'date-time' })),
  outcome: Type.Optional(OutboundOutcomeSchema),
  errcode: Type.Optional(Type.Integer()),
  errorCode: Type.Optional(Type.String()),
  forced: Type.Optional(Type.Boolean()),
  sentBy: Type.Optional(Type.String()),
  completedAt: Type.Optional(Type.String({ format: 'date-time' }))
})

/** An opaque page cursor (`next` of the previous page). */
export const CursorSchema = Type.String({ pattern: '^[A-Za-z0-9_-]{1,1024}$' })
