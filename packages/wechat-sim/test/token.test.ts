import t from 'tap'
import { APP, OTHER_APP, RID, advance, classicToken, getJson, makeSim } from './fixtures/sim.js'

const MIN = 60_000
const PATH = '/cgi-bin/token'

/** Any token-checked API will do; checksession answers 87009 (not a token error) for a bad signature. */
async function tokenErrcode (sim: Awaited<ReturnType<typeof makeSim>>, token?: string): Promise<number> {
  const q = token === undefined ? '' : `access_token=${encodeURIComponent(token)}&`
  const res = await getJson(sim, `/wxa/checksession?${q}openid=o${'a'.repeat(27)}&signature=00&sig_method=hmac_sha256`)
  return res.errcode === 87009 ? 0 : res.errcode
}

t.test('a token looks real and lasts tokenTtlSec', async (t) => {
  const sim = await makeSim(t)
  const res = await getJson(sim, `${PATH}?grant_type=client_credential&appid=${APP.appId}&secret=${APP.appSecret}`)
  t.same(Object.keys(res).sort(), ['access_token', 'expires_in'])
  t.equal(res.expires_in, 7200)
  t.match(res.access_token, /^[A-Za-z0-9_-]{120,160}$/)
  t.equal(await tokenErrcode(sim, res.access_token), 0, 'accepted')
  await advance(sim, 7200 * 1000 - 1)
  t.equal(await tokenErrcode(sim, res.access_token), 0, 'valid until the last millisecond')
  await advance(sim, 1)
  t.equal(await tokenErrcode(sim, res.access_token), 42001, 'expired')

  const short = await makeSim(t, { tokenTtlSec: 60 })
  t.equal((await getJson(short, `${PATH}?grant_type=client_credential&appid=${APP.appId}&secret=${APP.appSecret}`)).expires_in, 60)
})

t.test('a new token supersedes the old one after a 5-minute grace', async (t) => {
  const sim = await makeSim(t)
  const old = await classicToken(sim)
  await advance(sim, 10 * MIN)
  const fresh = await classicToken(sim)
  t.not(fresh, old)
  await advance(sim, 4 * MIN)
  t.equal(await tokenErrcode(sim, old), 0, 'old still valid at +4 min')
  t.equal(await tokenErrcode(sim, fresh), 0)
  await advance(sim, 2 * MIN)
  t.equal(await tokenErrcode(sim, old), 40001, 'old is "not latest" at +6 min')
  t.equal(await tokenErrcode(sim, fresh), 0, 'new one unaffected')
})

t.test('tokens of different apps do not supersede each other', async (t) => {
  const sim = await makeSim(t, { apps: [APP, OTHER_APP] })
  const mine = await classicToken(sim, APP)
  await classicToken(sim, OTHER_APP)
  await advance(sim, 6 * MIN)
  t.equal(await tokenErrcode(sim, mine), 0)
})

t.test('credential and parameter errors', async (t) => {
  const sim = await makeSim(t)
  const call = async (q: string): Promise<Record<string, any>> => getJson(sim, `${PATH}?${q}`)
  const wrongSecret = await call(`grant_type=client_credential&appid=${APP.appId}&secret=${'0'.repeat(32)}`)
  t.equal(wrongSecret.errcode, 40001, 'wrong secret is 40001 here')
  t.match(wrongSecret.errmsg, /^invalid credential/)
  t.match(wrongSecret.errmsg, RID)
  t.equal((await call(`grant_type=client_credential&appid=wx0000000000000000&secret=${APP.appSecret}`)).errcode, 40013)
  t.equal((await call(`grant_type=authorization_code&appid=${APP.appId}&secret=${APP.appSecret}`)).errcode, 40002)
  t.equal((await call(`appid=${APP.appId}&secret=${APP.appSecret}`)).errcode, 40002)
  t.equal((await call(`grant_type=client_credential&secret=${APP.appSecret}`)).errcode, 41002)
  t.equal((await call(`grant_type=client_credential&appid=${APP.appId}`)).errcode, 41004)
})

t.test('access_token checking: missing, malformed, unknown', async (t) => {
  const sim = await makeSim(t)
  t.equal(await tokenErrcode(sim), 41001, 'missing')
  t.equal(await tokenErrcode(sim, ''), 41001, 'empty')
  t.equal(await tokenErrcode(sim, 'garbage!'), 40014, 'not token-shaped')
  t.equal(await tokenErrcode(sim, '86_' + 'x'.repeat(133)), 40001, 'token-shaped but unknown')
  const token = await classicToken(sim)
  await sim.inject({ method: 'POST', url: '/sim/reset' })
  t.equal(await tokenErrcode(sim, token), 40001, 'forgotten by reset')
})
