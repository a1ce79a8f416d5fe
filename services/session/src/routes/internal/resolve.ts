import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import Type from 'typebox'
import { UserIdentitySchema, errorResponses } from '../../schemas.js'
import type { Credential } from '../../sessions/credentials.js'

const Part = Type.String({ minLength: 1, maxLength: 512 })

// Exactly one credential form. Each branch caps its property count instead of using additionalProperties:
// false, so the union means the same whatever Ajv's removeAdditional setting (which strips properties
// while trying branches of an anyOf).
const ResolveBody = Type.Union([
  Type.Object({ bearer: Part }, { maxProperties: 1 }),
  Type.Object({ waferId: Part, waferSkey: Part }, { maxProperties: 2 }),
  Type.Object({ skey: Part }, { maxProperties: 1 })
])

/** POST /internal/resolve: the gateway turns a client credential into a trusted identity (docs/internals.md). */
const resolve: FastifyPluginAsyncTypebox = async (app) => {
  app.post('/resolve', {
    schema: {
      body: ResolveBody,
      response: {
        200: Type.Object({ identity: UserIdentitySchema, expiresAt: Type.String({ format: 'date-time' }) }),
        ...errorResponses(400, 401, 413, 415, 500)
      }
    }
  }, async (request) => {
    const body = request.body
    let credential: Credential
    if ('bearer' in body) credential = { kind: 'bearer', token: body.bearer }
    else if ('waferId' in body) credential = { kind: 'wafer1', id: body.waferId, skey: body.waferSkey }
    else credential = { kind: 'wafer2', skey: body.skey }
    const { identity, expiresAt } = await app.sessionService.resolve(credential)
    return { identity, expiresAt: expiresAt.toISOString() }
  })
}

export default resolve
