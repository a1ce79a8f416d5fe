import { MultipartBody } from './multipart.js'

// JSON schemas shared by the simulated WeChat API routes. Their inputs are never rejected with a 400
// (WeChat answers errcodes instead), so routes use attachValidation and read fields through `field()`.

export const wxErrorSchema = {
  type: 'object',
  required: ['errcode', 'errmsg'],
  properties: { errcode: { type: 'integer' }, errmsg: { type: 'string' } }
} as const

/** 200 is either the success shape (listed first: it must win when it matches) or an errcode answer. */
export function wxResponse (success: object): { 200: object } {
  return { 200: { anyOf: [success, wxErrorSchema] } }
}

/** A querystring or body where every named field is an optional string. */
export function stringFields (...names: string[]): object {
  return { type: 'object', properties: Object.fromEntries(names.map((n) => [n, { type: 'string' }])) }
}

/** A non-empty string field of a parsed query or body, else undefined (absent, empty, repeated, not text). */
export function field (source: unknown, name: string): string | undefined {
  if (typeof source !== 'object' || source === null) return undefined
  const value = (source as Record<string, unknown>)[name]
  return typeof value === 'string' && value !== '' ? value : undefined
}

/** The request body when it was a JSON object, else null (not JSON, or multipart form data). */
export function jsonBody (body: unknown): Record<string, unknown> | null {
  if (typeof body !== 'object' || body === null || body instanceof MultipartBody || Array.isArray(body)) return null
  return body as Record<string, unknown>
}

export const tokenSuccessSchema = {
  type: 'object',
  required: ['access_token', 'expires_in'],
  properties: { access_token: { type: 'string' }, expires_in: { type: 'integer' } }
} as const
