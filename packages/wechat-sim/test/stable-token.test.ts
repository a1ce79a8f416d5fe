import t from 'tap'
import { APP, OTHER_APP, advance, classicToken, getJson, makeSim, postJson, stableToken } from './fixtures/sim.js'

const MIN = 60_000
const DAY = 24 * 60 * MIN

async function tokenErrcode (sim: Awaited<ReturnType<typeof makeSim>>, token: string): Promise<number> {
  const res = await getJson(sim, `/wxa/checksession?access_token=${token}&openid=o${'a'.repeat(27)}&signature=00&sig_method=hmac_sha256`)
  return res.errcode === 87009 ? 0 : res.errcode
}

t.test('normal mode returns the same token with its remaining lifetime', async (t) => {
  const sim = await makeSim(t)
  const first = await stableToken(sim)
  t.equal(first.expires_in, 7200)
  await advance(sim, 10 * MIN + 500)
  const second = await stableToken(sim)
  t.equal(second.access_token, first.access_token)
  t.equal(second.expires_in, 7200 - 601, 'remaining seconds, rounded down')
  t.equal(await tokenErrcode(sim, first.access_token), 0)
})

t.test('rolls over 5 minutes before expiry; the old token lives to its own expiry', async (t) => {
  const sim = await makeSim(t)
  const first = await stableToken(sim)
  await advance(sim, (7200 - 301) * 1000)
  const late = await stableToken(sim)
  t.equal(late.access_token, first.access_token)
  t.equal(late.expires_in, 301)
  await advance(sim, 1000)
  const rolled = await stableToken(sim)
  t.not(rolled.access_token, first.access_token, 'new token once 300 s or less remain')
  t.equal(rolled.expires_in, 7200)
  t.equal(await tokenErrcode(sim, first.access_token), 0, 'both work during the hand-over')
  await advance(sim, 300 * 1000)
  t.equal(await tokenErrcode(sim, first.access_token), 42001, 'old one expires on schedule')
  t.equal(await tokenErrcode(sim, rolled.access_token), 0)

  // Whatever the timing, expires_in never drops below 300.
  for (let i = 0; i < 30; i++) {
    await advance(sim, 7 * MIN)
    const r = await stableToken(sim)
    if (r.expires_in < 300) t.fail(`expires_in ${r.expires_in}`)
  }
})

t.test('force_refresh kills the old token at once, at most every 30 s', async (t) => {
  const sim = await makeSim(t)
  const first = await stableToken(sim)
  const forced = await stableToken(sim, true)
  t.not(forced.access_token, first.access_token)
  t.equal(forced.expires_in, 7200)
  t.equal(await tokenErrcode(sim, first.access_token), 40001, 'previous token invalid immediately')

  await advance(sim, 29_000)
  const tooSoon = await stableToken(sim, true)
  t.equal(tooSoon.access_token, forced.access_token, 'within 30 s: no refresh, current token')
  t.equal(tooSoon.expires_in, 7200 - 29)
  await advance(sim, 1000)
  const next = await stableToken(sim, true)
  t.not(next.access_token, forced.access_token, 'after 30 s the force works again')
})

t.test('force_refresh works 20 times per (Beijing) day', async (t) => {
  const sim = await makeSim(t)
  const seen = new Set<string>()
  for (let i = 0; i < 20; i++) {
    seen.add((await stableToken(sim, true)).access_token)
    await advance(sim, 30_000)
  }
  t.equal(seen.size, 20)
  const last = [...seen].at(-1)
  const refused = await stableToken(sim, true)
  t.equal(refused.access_token, last, '21st forced call that day returns the current token')
  t.equal(await tokenErrcode(sim, last!), 0)
  await advance(sim, DAY)
  t.not((await stableToken(sim, true)).access_token, last, 'next day the quota is back')
})

t.test('stable and classic tokens are independent', async (t) => {
  const sim = await makeSim(t)
  const stable = await stableToken(sim)
  const classic = await classicToken(sim)
  await classicToken(sim)
  await advance(sim, 6 * MIN)
  t.equal(await tokenErrcode(sim, stable.access_token), 0, 'classic fetches do not retire the stable token')
  t.equal((await stableToken(sim)).access_token, stable.access_token)
  const classic2 = await classicToken(sim)
  await stableToken(sim, true)
  t.equal(await tokenErrcode(sim, classic2), 0, 'forced stable refresh leaves classic tokens alone')
  t.not(classic, stable.access_token)
})

t.test('per app', async (t) => {
  const sim = await makeSim(t, { apps: [APP, OTHER_APP] })
  t.not((await stableToken(sim, false, OTHER_APP)).access_token, (await stableToken(sim)).access_token)
})

t.test('errors, and a body that is not JSON', async (t) => {
  const sim = await makeSim(t)
  const good = { grant_type: 'client_credential', appid: APP.appId, secret: APP.appSecret }
  t.equal((await postJson(sim, '/cgi-bin/stable_token', { ...good, secret: '0'.repeat(32) })).errcode, 40001)
  t.equal((await postJson(sim, '/cgi-bin/stable_token', { ...good, appid: 'wx0000000000000000' })).errcode, 40013)
  t.equal((await postJson(sim, '/cgi-bin/stable_token', { ...good, grant_type: 'x' })).errcode, 40002)
  t.equal((await postJson(sim, '/cgi-bin/stable_token', { ...good, appid: undefined })).errcode, 41002)
  t.equal((await postJson(sim, '/cgi-bin/stable_token', { ...good, secret: undefined })).errcode, 41004)

  const form = await sim.inject({
    method: 'POST',
    url: '/cgi-bin/stable_token',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    payload: new URLSearchParams(good).toString()
  })
  t.equal(form.statusCode, 200)
  t.equal(form.json().errcode, 41002, 'form body reads as appid missing')
  const broken = await sim.inject({ method: 'POST', url: '/cgi-bin/stable_token', headers: { 'content-type': 'application/json' }, payload: '{"appid":' })
  t.equal(broken.json().errcode, 41002, 'broken JSON too')
  const empty = await sim.inject({ method: 'POST', url: '/cgi-bin/stable_token' })
  t.equal(empty.json().errcode, 41002, 'no body at all')
})
