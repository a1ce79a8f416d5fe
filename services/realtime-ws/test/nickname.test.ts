import t from 'tap'
import Fastify from 'fastify'
import { decodeIdentity } from '@weapp/common'
import { listenLocal, type Teardown } from '@weapp/test-kit'
import { httpNicknameLookup, displayName } from '../src/hub/nickname.js'
import { ALICE, AGENT, BOB, Client, INTERNAL_TOKEN, gatewayHeaders, start, testConfig } from './fixtures/harness.js'
import type { RealtimeConfig } from '../src/config.js'

/**
 * A stand-in for the session service's GET /api/me (another service's API, so a unit test fakes it):
 * Alice has a nickname, Bob only wafer userInfo, anyone else is unknown (404).
 */
async function standInSession (t: Teardown): Promise<{ url: string, seen: string[] }> {
  const seen: string[] = []
  const app = Fastify()
  app.get('/api/me', async (request, reply) => {
    if (request.headers['x-internal-token'] !== INTERNAL_TOKEN) return await reply.code(401).send({ code: 'COMMON_INTERNAL_AUTH_INVALID' })
    const identity = decodeIdentity(String(request.headers['x-weapp-identity']))
    if (identity.kind !== 'user') return await reply.code(401).send({})
    seen.push(identity.openid)
    if (identity.openid === ALICE.openid) return { openid: identity.openid, nickname: 'Alice', wxUserInfo: { openId: identity.openid, nickName: 'wx-alice' } }
    if (identity.openid === BOB.openid) return { openid: identity.openid, wxUserInfo: { openId: identity.openid, nickName: '鲍勃' } }
    return await reply.code(404).send({ code: 'SESSION_USER_NOT_FOUND' })
  })
  const url = await listenLocal(app)
  t.teardown(() => app.close())
  return { url, seen }
}

t.test('displayName: nickname, then wafer nickName, then openid', async (t) => {
  t.equal(displayName('o1', { nickname: 'N', wxUserInfo: { openId: 'o1', nickName: 'W' } }), 'N')
  t.equal(displayName('o1', { wxUserInfo: { openId: 'o1', nickName: 'W' } }), 'W')
  t.equal(displayName('o1', null), 'o1')
})

t.test('HTTP lookup against a stand-in session service', async (t) => {
  const session = await standInSession(t)
  const errors: unknown[] = []
  const lookup = httpNicknameLookup({ sessionUrl: session.url, internalToken: INTERNAL_TOKEN, timeoutMs: 1000, onError: (e) => errors.push(e) })
  t.equal(await lookup(ALICE, 'r1'), 'Alice')
  t.equal(await lookup(BOB, 'r2'), '鲍勃')
  t.equal(await lookup({ ...ALICE, openid: 'o_ghost' }, 'r3'), 'o_ghost', 'unknown user: the openid')
  t.equal(errors.length, 1)
  t.equal(await lookup(AGENT, 'r4'), 'ops', 'admins are not looked up')
  t.same(session.seen, ['o_alice', 'o_bob', 'o_ghost'])
  const down = httpNicknameLookup({ sessionUrl: 'http://127.0.0.1:9', internalToken: INTERNAL_TOKEN, timeoutMs: 500 })
  t.equal(await down(ALICE, 'r5'), 'o_alice', 'session service down: the openid')
})

t.test('the default app greets with the name from the session service', async (t) => {
  const session = await standInSession(t)
  const config: RealtimeConfig = testConfig({ SESSION_URL: session.url })
  const r = await start(t, { config, nickname: 'http' })
  const c = await Client.open(t, `${r.ws}/ws`, gatewayHeaders(BOB))
  t.equal(await c.next(), 'Server: 恭喜，鲍勃')
})
