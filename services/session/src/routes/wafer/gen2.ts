import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import Type from 'typebox'
import { WxUserInfoSchema, errorResponses } from '../../schemas.js'
import { WaferHeaderMissingError } from '../../errors.js'
import { outcomeOf } from '../../metrics.js'
import { WaferHeaders, gen2Error, header, logLoginFailure } from '../../wafer/protocol.js'

const Failure = Type.Object({ code: Type.Literal(-1), error: Type.String() })
const LoginSuccess = Type.Object({
  code: Type.Literal(0),
  data: Type.Object({ userinfo: WxUserInfoSchema, skey: Type.String(), time: Type.Integer() })
})
const UserSuccess = Type.Object({ code: Type.Literal(0), data: WxUserInfoSchema })
const NotLoggedIn = Type.Object({ code: Type.Literal(-1), data: Type.Object({}) })

/** Wafer generation 2 (wafer2-client-sdk 2.1 + the wafer-node-sdk quickstart), mounted under /weapp. */
const gen2: FastifyPluginAsyncTypebox = async (app) => {
  app.route({
    method: ['GET', 'POST'],
    url: '/login',
    schema: { response: { 200: Type.Union([LoginSuccess, Failure]), ...errorResponses(400, 401, 413, 500) } },
    handler: async (request) => {
      try {
        const code = header(request, WaferHeaders.code)
        const encryptedData = header(request, WaferHeaders.encryptedData)
        const iv = header(request, WaferHeaders.iv)
        if (code === undefined) throw new WaferHeaderMissingError('X-WX-Code')
        let outcome
        if (encryptedData === undefined && iv === undefined) {
          outcome = await app.loginService.loginWithCode('wafer2', code)
        } else if (encryptedData === undefined || iv === undefined) {
          throw new WaferHeaderMissingError(encryptedData === undefined ? 'X-WX-Encrypted-Data' : 'X-WX-IV')
        } else {
          outcome = await app.loginService.loginWithUserInfo('wafer2', code, { encryptedData, iv })
        }
        app.sessionMetrics.login('wafer2', 'ok')
        return {
          code: 0 as const,
          data: { userinfo: outcome.userInfo, skey: outcome.credential.skey, time: Math.floor(app.clock() / 1000) }
        }
      } catch (err) {
        app.sessionMetrics.login('wafer2', outcomeOf(err))
        logLoginFailure(request.log, err)
        return { code: -1 as const, error: gen2Error(err) }
      }
    }
  })

  app.route({
    method: ['GET', 'POST'],
    url: '/user',
    schema: { response: { 200: Type.Union([UserSuccess, NotLoggedIn]), ...errorResponses(400, 401, 413, 500) } },
    handler: async (request) => {
      const identity = request.identity
      if (identity?.kind !== 'user') return { code: -1 as const, data: {} }
      // A storage failure throws (HTTP 500): answering code -1 would log a valid user out.
      const user = await app.usersRepository.findByOpenid(identity.openid)
      if (user?.wxUserInfo === undefined) return { code: -1 as const, data: {} }
      return { code: 0 as const, data: user.wxUserInfo }
    }
  })
}

export default gen2
