import Type from 'typebox'

export const ErrorSchema = Type.Object({
  statusCode: Type.Integer(),
  code: Type.String(),
  error: Type.String(),
  message: Type.String()
})

/** Responses every route may give through the central error handler. */
export function errorResponses (...statuses: number[]): Record<number, typeof ErrorSchema> {
  const out: Record<number, typeof ErrorSchema> = {}
  for (const status of statuses) out[status] = ErrorSchema
  return out
}

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

/** The push URL's query (protocol.md §3.1-3.2); unknown parameters are allowed (WeChat may add some). */
export const PushQuerySchema = Type.Object({
  signature: QueryParam,
  timestamp: QueryParam,
  nonce: QueryParam,
  echostr: QueryParam,
  encrypt_type: QueryParam,
  msg_signature: QueryParam,
  openid: QueryParam
}, { additionalProperties: true })
