import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import Type from 'typebox'
import { WxUserInfoSchema, errorResponses } from '../../schemas.js'
import { WaferHeaderMissingError } from '../../errors.js'
import { outcomeOf } from '../../metrics.js'
import { ALREADY_LOGGED_IN_MESSAGE, WAFER_MAGIC, WaferHeaders, gen1FailureMessage, header, logLoginFailure } from '../../wafer/protocol.js'

const LoginSuccess = Type.Object({
  [WAFER_MAGIC]: Type.Literal(1),
  session: Type.Object({ id: Type.String(), skey: Type.String() })
})
const LoginFailed = Type.Object({ type: Type.Literal('ERR_LOGIN_FAILED'), message: Type.String() })
const AlreadyLoggedIn = Type.Object({ code: Type.Literal(0), message: Type.String() })

/** Wafer generation 1 (wafer-client-sdk 0.8 + wafer-node-session): the seed's /login and /me. */
const gen1: FastifyPluginAsyncTypebox = async (app) => {
  app.route({
    method: ['GET', 'POST'],
    url: '/login',
    schema: { response: { 200: Type.Union([LoginSuccess, LoginFailed, AlreadyLoggedIn]), ...errorResponses(400, 401, 413, 500) } },
    handler: async (request) => {
      const identity = request.identity
      if (identity?.kind === 'user' && identity.via === 'wafer1') return { code: 0 as const, message: ALREADY_LOGGED_IN_MESSAGE }
      try {
        const code = header(request, WaferHeaders.code)
        if (code === undefined) throw new WaferHeaderMissingError('X-WX-Code')
        const encryptedData = header(request, WaferHeaders.encryptedData)
        const legacyData = header(request, WaferHeaders.encryptData)
        const iv = header(request, WaferHeaders.iv)
        let outcome
        if (encryptedData !== undefined) {
          if (iv === undefined) throw new WaferHeaderMissingError('X-WX-IV')
          outcome = await app.loginService.loginWithUserInfo('wafer1', code, { encryptedData, iv })
        } else if (legacyData !== undefined) {
          // qcloud-weapp-client-sdk 0.7: X-WX-Encrypt-Data, with or without an iv.
          outcome = await app.loginService.loginWithUserInfo('wafer1', code, iv === undefined ? { encryptedData: legacyData } : { encryptedData: legacyData, iv })
        } else {
          throw new WaferHeaderMissingError('X-WX-Encrypted-Data')
        }
        app.sessionMetrics.login('wafer1', 'ok')
        return { [WAFER_MAGIC]: 1 as const, session: { id: outcome.credential.id, skey: outcome.credential.skey } }
      } catch (err) {
        app.sessionMetrics.login('wafer1', outcomeOf(err))
        logLoginFailure(request.log, err)
        return { type: 'ERR_LOGIN_FAILED' as const, message: gen1FailureMessage(err) }
      }
    }
  })

  app.route({
    method: ['GET', 'POST'],
    url: '/me',
    schema: { response: { 200: Type.Union([WxUserInfoSchema, Type.Object({ noBody: Type.Literal(true) })]), ...errorResponses(400, 401, 413, 500) } },
    handler: async (request) => {
      const identity = request.identity
      if (identity?.kind !== 'user') return { noBody: true as const }
      const user = await app.usersRepository.findByOpenid(identity.openid)
      return user?.wxUserInfo ?? { noBody: true as const }
    }
  })
}

export default gen1
