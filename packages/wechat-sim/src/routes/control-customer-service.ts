import type { FastifyInstance } from 'fastify'
import { PUSH_DELIVERIES, PUSH_TIMEOUT_MS } from '../defaults.js'
import { PUSH_TAMPERS } from '../push-sender.js'
import type { PushConfigRequest, SimPushRequest, UserActionRequest, UserMediaRequest, UserRef } from '../types.js'

// Control routes of the customer-service simulation (under /sim, see README): what users do in WeChat
// (act, send pictures), what they received, and message pushes to the app's URL. Bad input is a 400.

const str = { type: 'string' } as const
const user = { type: 'string', minLength: 1, maxLength: 256 } as const
const openid = { type: 'string', minLength: 1, maxLength: 128 } as const
const appId = { type: 'string', minLength: 1, maxLength: 64 } as const
const kind = { type: 'string', enum: ['message', 'enter_session'] } as const
const mode = { type: 'string', enum: ['plaintext', 'compatible', 'safe'] } as const
const format = { type: 'string', enum: ['xml', 'json'] } as const
const ok = { type: 'object', required: ['ok'], properties: { ok: { type: 'boolean' } } } as const
const anyObject = { type: 'object', additionalProperties: true } as const
/** Either a user label or an openid names the user. */
const userOrOpenid = [{ required: ['user'] }, { required: ['openid'] }]

const pushConfigProperties = {
  url: { type: 'string', pattern: '^https?://', maxLength: 2048 },
  token: { type: 'string', minLength: 1, maxLength: 128 },
  encodingAESKey: { type: 'string', pattern: '^[A-Za-z0-9+/]{43}$' },
  mode,
  format
} as const

const windowSchema = {
  type: 'object',
  required: ['kind', 'openedAt', 'expiresAt', 'allowance', 'remaining'],
  properties: { kind, openedAt: { type: 'integer' }, expiresAt: { type: 'integer' }, allowance: { type: 'integer' }, remaining: { type: 'integer' } }
} as const

const userActionResult = { type: 'object', required: ['openid', 'kind', 'window'], properties: { openid: str, kind, window: windowSchema } } as const

const userActionSchema = {
  body: { type: 'object', required: ['kind'], additionalProperties: false, anyOf: userOrOpenid, properties: { user, openid, appId, kind } },
  response: { 200: userActionResult }
} as const

const sentSchema = {
  querystring: { type: 'object', additionalProperties: false, anyOf: userOrOpenid, properties: { user, openid, appId } },
  response: {
    200: {
      type: 'object',
      required: ['openid', 'window', 'typing', 'messages'],
      properties: {
        openid: str,
        window: { anyOf: [windowSchema, { type: 'null' }] },
        typing: { type: 'boolean' },
        messages: { type: 'array', items: anyObject }
      }
    }
  }
} as const

const pushConfigSchema = {
  body: { type: 'object', required: ['url', 'token'], additionalProperties: false, properties: { appId, ...pushConfigProperties } },
  response: { 200: ok }
} as const

const attemptSchema = {
  type: 'object',
  required: ['attempt', 'timestamp', 'nonce', 'latencyMs', 'acceptable'],
  properties: {
    attempt: { type: 'integer' },
    timestamp: str,
    nonce: str,
    status: { type: 'integer' },
    body: str,
    latencyMs: { type: 'integer' },
    error: str,
    acceptable: { type: 'boolean' },
    reason: str,
    reply: anyObject
  }
} as const

const pushSchema = {
  body: {
    type: 'object',
    required: ['message'],
    additionalProperties: false,
    properties: {
      appId,
      user,
      // MsgId as a string: a bare 64-bit integer would lose digits in any JSON parser on the way here.
      message: { type: 'object', required: ['MsgType'], additionalProperties: true, properties: { MsgType: { type: 'string', minLength: 1 }, MsgId: str } },
      ...pushConfigProperties,
      tamper: { type: 'string', enum: [...PUSH_TAMPERS] },
      // Bounded so that a whole push (every delivery timing out) ends well within the 30 s request timeout.
      timeoutMs: { type: 'integer', minimum: 1, maximum: PUSH_TIMEOUT_MS },
      deliveries: { type: 'integer', minimum: 1, maximum: PUSH_DELIVERIES },
      retryDelayMs: { type: 'integer', minimum: 0, maximum: 1000 },
      resignRetries: { type: 'boolean' },
      userAction: { type: 'boolean' }
    }
  },
  response: {
    200: {
      type: 'object',
      required: ['acceptable', 'deliveries', 'attempts', 'message'],
      properties: {
        acceptable: { type: 'boolean' },
        deliveries: { type: 'integer' },
        attempts: { type: 'array', items: attemptSchema },
        reply: anyObject,
        message: anyObject,
        userAction: userActionResult
      }
    }
  }
} as const

// Base64 of the largest image media/upload takes (10 MB) plus the JSON around it.
const MEDIA_BODY_LIMIT = 14 * 1024 * 1024

const mediaSchema = {
  body: {
    type: 'object',
    required: ['contentType', 'data'],
    additionalProperties: false,
    properties: { appId, contentType: { type: 'string', minLength: 1, maxLength: 64 }, data: { type: 'string', minLength: 1, pattern: '^[A-Za-z0-9+/]*={0,2}$' } }
  },
  response: { 200: { type: 'object', required: ['mediaId', 'createdAt'], properties: { mediaId: str, createdAt: { type: 'integer' } } } }
} as const

export async function customerServiceControlRoutes (app: FastifyInstance): Promise<void> {
  const state = app.simState

  app.post<{ Body: UserActionRequest }>('/user-action', { schema: userActionSchema }, async (request) => state.userAction(request.body))

  app.get<{ Querystring: UserRef }>('/sent', { schema: sentSchema }, async (request) => state.sentTo(request.query))

  app.post<{ Body: PushConfigRequest }>('/push-config', { schema: pushConfigSchema }, async (request) => {
    const { appId: id, ...config } = request.body
    state.setPushConfig(id, config)
    return { ok: true }
  })

  app.post<{ Body: SimPushRequest }>('/push', { schema: pushSchema }, async (request) => state.push(request.body))

  app.post<{ Body: UserMediaRequest }>('/media', { schema: mediaSchema, bodyLimit: MEDIA_BODY_LIMIT }, async (request) => state.userMedia(request.body))
}
