import type { FastifyInstance } from 'fastify'
import { MAX_FAULT_COUNT, MAX_FAULT_DELAY_MS, type FaultSpec } from '../faults.js'
import type { LoginCodeRequest, PhoneCodeRequest } from '../types.js'

// The simulator's own control API (docs/internals.md). Unlike the WeChat routes, bad input is a 400.

const DAY_MS = 86_400_000
const user = { type: 'string', minLength: 1, maxLength: 256 } as const
const appId = { type: 'string', minLength: 1, maxLength: 64 } as const
const ttlMs = { type: 'integer', minimum: 1, maximum: DAY_MS } as const
const str = { type: 'string' } as const
const ok = { type: 'object', required: ['ok'], properties: { ok: { type: 'boolean' } } } as const
const now = { type: 'object', required: ['now'], properties: { now: { type: 'integer' } } } as const

const loginCodeSchema = {
  body: {
    type: 'object',
    required: ['user'],
    additionalProperties: false,
    properties: { user, appId, nickName: { type: 'string', minLength: 1, maxLength: 64 }, avatarUrl: { type: 'string', maxLength: 2048 }, ttlMs }
  },
  response: {
    200: {
      type: 'object',
      required: ['code', 'openid', 'unionid', 'userInfo'],
      properties: {
        code: str,
        openid: str,
        unionid: str,
        userInfo: {
          type: 'object',
          required: ['encryptedData', 'iv', 'rawData', 'signature'],
          properties: { encryptedData: str, iv: str, rawData: str, signature: str }
        }
      }
    }
  }
} as const

const phoneCodeSchema = {
  body: {
    type: 'object',
    required: ['user'],
    additionalProperties: false,
    properties: {
      user,
      appId,
      phoneNumber: { type: 'string', pattern: '^[0-9]{5,20}$' },
      countryCode: { type: 'string', pattern: '^[0-9]{1,4}$' },
      ttlMs
    }
  },
  response: { 200: { type: 'object', required: ['code', 'phoneNumber'], properties: { code: str, phoneNumber: str } } }
} as const

const faultSchema = {
  body: {
    type: 'object',
    required: ['path'],
    additionalProperties: false,
    properties: {
      path: { type: 'string', pattern: '^/[^?#]*$', maxLength: 256 },
      errcode: { type: 'integer', not: { const: 0 } },
      errmsg: { type: 'string', maxLength: 256 },
      delayMs: { type: 'integer', minimum: 0, maximum: MAX_FAULT_DELAY_MS },
      count: { type: 'integer', minimum: 1, maximum: MAX_FAULT_COUNT }
    }
  },
  response: { 200: { type: 'object', required: ['path', 'pending'], properties: { path: str, pending: { type: 'integer' } } } }
} as const

const clearFaultsSchema = {
  querystring: { type: 'object', additionalProperties: false, properties: { path: { type: 'string', pattern: '^/' } } },
  response: { 200: ok }
} as const

const statsSchema = {
  response: {
    200: {
      type: 'object',
      required: ['calls'],
      properties: { calls: { type: 'object', additionalProperties: { type: 'integer' } } }
    }
  }
} as const

const clockSchema = {
  body: {
    type: 'object',
    required: ['advanceMs'],
    additionalProperties: false,
    // Up to ten years at once: enough for any expiry, small enough to stay a safe integer.
    properties: { advanceMs: { type: 'integer', minimum: 0, maximum: 3650 * DAY_MS } }
  },
  response: { 200: now }
} as const

export async function controlRoutes (app: FastifyInstance): Promise<void> {
  const state = app.simState

  app.post<{ Body: LoginCodeRequest }>('/login-code', { schema: loginCodeSchema }, async (request) => state.loginCode(request.body))

  app.post<{ Body: PhoneCodeRequest }>('/phone-code', { schema: phoneCodeSchema }, async (request) => state.phoneCode(request.body))

  app.post<{ Body: FaultSpec }>('/faults', { schema: faultSchema }, async (request) => {
    const pending = state.faults.add(request.body)
    return { path: request.body.path, pending }
  })

  app.delete<{ Querystring: { path?: string } }>('/faults', { schema: clearFaultsSchema }, async (request) => {
    state.faults.clear(request.query.path)
    return { ok: true }
  })

  app.get('/stats', { schema: statsSchema }, async () => state.stats())

  app.post('/reset', { schema: { response: { 200: ok } } }, async () => {
    state.reset()
    return { ok: true }
  })

  app.get('/clock', { schema: { response: { 200: now } } }, async () => ({ now: state.now() }))

  app.post<{ Body: { advanceMs: number } }>('/clock', { schema: clockSchema }, async (request) => ({ now: state.clock.advance(request.body.advanceMs) }))
}
