import t from 'tap'
import { APP, OTHER_APP, RID, advance, classicToken, getJson, makeSim, postJson } from './fixtures/sim.js'
import { BUSINESS_SEND, SEND, csSetup, send, sent, text, upload, userAction } from './fixtures/cs.js'

const HOUR = 3_600_000
// Tokens that outlive the 48-hour windows these tests walk through.
const LONG = { tokenTtlSec: 10 * 86_400 }

t.test('no window: 45015, until the user acts', async (t) => {
  const sim = await makeSim(t)
  const { token, openid } = await csSetup(sim)
  const res = await send(sim, token, text(openid))
  t.equal(res.errcode, 45015)
  t.match(res.errmsg, /^response out of time limit or subscription is canceled/)
  t.match(res.errmsg, RID)
  t.same((await sent(sim, openid)).messages, [], 'nothing was delivered')
})

t.test('a user message opens 5 messages for 48 hours', async (t) => {
  const sim = await makeSim(t, LONG)
  const { token, openid } = await csSetup(sim)
  const action = await userAction(sim, { user: 'alice', kind: 'message' })
  t.same(action, { openid, kind: 'message', window: { kind: 'message', openedAt: sim.simState.now(), expiresAt: sim.simState.now() + 48 * HOUR, allowance: 5, remaining: 5 } })
  for (let i = 1; i <= 5; i++) t.same(await send(sim, token, text(openid, `m${i}`)), { errcode: 0, errmsg: 'ok' }, `message ${i}`)
  const over = await send(sim, token, text(openid, 'm6'))
  t.equal(over.errcode, 45047, 'the sixth is over the quota')
  t.match(over.errmsg, /^out of response count limit/)
  const view = await sent(sim, openid)
  t.same(view.messages.map((m: any) => m.text.content), ['m1', 'm2', 'm3', 'm4', 'm5'])
  t.match(view.messages[0], { msgtype: 'text', text: { content: 'm1' }, sentAt: sim.simState.now() })
  t.match(view.window, { kind: 'message', remaining: 0 })

  await advance(sim, 48 * HOUR)
  t.equal((await send(sim, token, text(openid))).errcode, 45015, 'the window closed after 48 h')
  t.equal((await sent(sim, openid)).window, null)
  await userAction(sim, { openid, kind: 'message' })
  t.equal((await send(sim, token, text(openid))).errcode, 0, 'the user wrote again')
})

t.test('a window still open at 47:59 h, with what is left', async (t) => {
  const sim = await makeSim(t, LONG)
  const { token, openid } = await csSetup(sim)
  await userAction(sim, { openid, kind: 'message' })
  await send(sim, token, text(openid))
  await advance(sim, 48 * HOUR - 1000)
  t.equal((await send(sim, token, text(openid))).errcode, 0)
  t.match((await sent(sim, openid)).window, { remaining: 3 })
})

t.test('entering the session opens 2 messages for one minute; the allowance is configurable', async (t) => {
  const sim = await makeSim(t)
  const { token, openid } = await csSetup(sim)
  t.match(await userAction(sim, { user: 'alice', kind: 'enter_session' }), { window: { kind: 'enter_session', allowance: 2, remaining: 2, expiresAt: sim.simState.now() + 60_000 } })
  t.equal((await send(sim, token, text(openid))).errcode, 0)
  t.equal((await send(sim, token, text(openid))).errcode, 0)
  t.equal((await send(sim, token, text(openid))).errcode, 45047)
  await advance(sim, 60_000)
  t.equal((await send(sim, token, text(openid))).errcode, 45015, 'a minute later: closed')

  const strict = await makeSim(t, { enterSessionAllowance: 1 })
  const s = await csSetup(strict)
  await userAction(strict, { user: 'alice', kind: 'enter_session' })
  t.equal((await send(strict, s.token, text(s.openid))).errcode, 0)
  t.equal((await send(strict, s.token, text(s.openid))).errcode, 45047, 'older docs: one message')

  const generous = await makeSim(t, { userMessageAllowance: 3 })
  await csSetup(generous)
  t.match(await userAction(generous, { user: 'alice', kind: 'message' }), { window: { allowance: 3 } })
})

t.test('each user action resets the window to its maximum; quotas never add up', async (t) => {
  const sim = await makeSim(t, LONG)
  const { token, openid } = await csSetup(sim)
  await userAction(sim, { openid, kind: 'message' })
  await send(sim, token, text(openid))
  await send(sim, token, text(openid))
  await advance(sim, 10 * HOUR)
  const again = await userAction(sim, { openid, kind: 'message' })
  t.match(again.window, { remaining: 5, allowance: 5, expiresAt: sim.simState.now() + 48 * HOUR }, '5 again, not 8; 48 h from now')

  // Entering the session does not shrink a message window that has at least as many left…
  t.match((await userAction(sim, { openid, kind: 'enter_session' })).window, { kind: 'message', remaining: 5 })
  for (let i = 0; i < 4; i++) await send(sim, token, text(openid))
  // …but replaces one that has fewer.
  t.match((await userAction(sim, { openid, kind: 'enter_session' })).window, { kind: 'enter_session', remaining: 2 })
  t.equal((await send(sim, token, text(openid))).errcode, 0)
  t.equal((await send(sim, token, text(openid))).errcode, 0)
  t.equal((await send(sim, token, text(openid))).errcode, 45047)
  await userAction(sim, { openid, kind: 'enter_session' })
  t.equal((await send(sim, token, text(openid))).errcode, 0, 'entering again resets the used-up window')
})

t.test('40003 for an openid that is not a user of the token\'s app', async (t) => {
  const sim = await makeSim(t, { apps: [APP, OTHER_APP] })
  const { token, openid } = await csSetup(sim)
  await userAction(sim, { openid, kind: 'message' })
  const other = await postJson(sim, '/sim/login-code', { user: 'bob', appId: OTHER_APP.appId })
  await userAction(sim, { openid: other.openid, appId: OTHER_APP.appId, kind: 'message' })
  t.equal((await send(sim, token, text(other.openid))).errcode, 40003, 'a user of another app')
  t.equal((await send(sim, token, text('oNeverSeenxxxxxxxxxxxxxxxxxx'))).errcode, 40003, 'an openid WeChat never issued')
  t.equal((await send(sim, token, { msgtype: 'text', text: { content: 'x' } })).errcode, 40003, 'no touser')
  const otherToken = await classicToken(sim, OTHER_APP)
  t.equal((await send(sim, otherToken, text(other.openid))).errcode, 0, 'the right app')
})

t.test('per-msgtype validation; refused messages use nothing from the window', async (t) => {
  const sim = await makeSim(t, { apps: [APP, OTHER_APP] })
  const { token, openid } = await csSetup(sim)
  await userAction(sim, { openid, kind: 'enter_session' })
  const { media_id: mediaId } = await upload(sim, token)
  const foreignMedia = (await upload(sim, await classicToken(sim, OTHER_APP))).media_id
  const cases: Array<[string, object, number]> = [
    ['unknown msgtype', { msgtype: 'voice', voice: { media_id: mediaId } }, 40008],
    ['no msgtype', {}, 40008],
    ['empty text', { msgtype: 'text', text: { content: '' } }, 44004],
    ['text without its object', { msgtype: 'text' }, 44004],
    ['image with an unknown media_id', { msgtype: 'image', image: { media_id: 'nope' } }, 40007],
    ['image of another app', { msgtype: 'image', image: { media_id: foreignMedia } }, 40007],
    ['link without thumb_url', { msgtype: 'link', link: { title: 't', description: 'd', url: 'https://e.com' } }, 47001],
    ['miniprogrampage without pagepath', { msgtype: 'miniprogrampage', miniprogrampage: { title: 't', thumb_media_id: mediaId } }, 47001],
    ['miniprogrampage with a bad thumb', { msgtype: 'miniprogrampage', miniprogrampage: { title: 't', pagepath: 'pages/a', thumb_media_id: 'nope' } }, 40007]
  ]
  for (const [name, body, errcode] of cases) t.equal((await send(sim, token, { touser: openid, ...body })).errcode, errcode, name)
  const form = await sim.inject({ method: 'POST', url: `${SEND}?access_token=${token}`, headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: `touser=${openid}` })
  t.equal(form.json().errcode, 47001, 'a form body is a data format error')

  t.equal((await send(sim, token, { touser: openid, msgtype: 'image', image: { media_id: mediaId } })).errcode, 0)
  t.equal((await send(sim, token, { touser: openid, msgtype: 'link', link: { title: 't', description: 'd', url: 'https://e.com', thumb_url: 'https://e.com/t.png' }, extra: 1 })).errcode, 0)
  t.equal((await send(sim, token, { touser: openid, msgtype: 'text', text: { content: 'x' } })).errcode, 45047, 'only the two valid sends counted')
  t.same((await sent(sim, openid)).messages.map((m: any) => [m.msgtype, m[m.msgtype]]), [
    ['image', { media_id: mediaId }],
    ['link', { title: 't', description: 'd', url: 'https://e.com', thumb_url: 'https://e.com/t.png' }]
  ])
  await userAction(sim, { openid, kind: 'message' })
  t.equal((await send(sim, token, { touser: openid, msgtype: 'miniprogrampage', miniprogrampage: { title: 't', pagepath: 'pages/index/index?foo=bar', thumb_media_id: mediaId } })).errcode, 0)
})

t.test('business/send needs a businessid (40101) and shares the window', async (t) => {
  const sim = await makeSim(t)
  const { token, openid } = await csSetup(sim)
  await userAction(sim, { openid, kind: 'enter_session' })
  const missing = await send(sim, token, text(openid), BUSINESS_SEND)
  t.equal(missing.errcode, 40101)
  t.match(missing.errmsg, /^missing parameter/)
  t.equal((await send(sim, token, { ...text(openid), businessid: '' }, BUSINESS_SEND)).errcode, 40101)
  t.equal((await send(sim, token, { ...text(openid, 'b1'), businessid: 1001 }, BUSINESS_SEND)).errcode, 0)
  t.equal((await send(sim, token, { ...text(openid, 'b2'), businessid: 'shop-7' }, BUSINESS_SEND)).errcode, 0)
  t.equal((await send(sim, token, text(openid))).errcode, 45047, 'same window as custom/send')
  t.same((await sent(sim, openid)).messages.map((m: any) => [m.text.content, m.businessid]), [['b1', '1001'], ['b2', 'shop-7']])
})

t.test('token checks, faults and stats as for every API', async (t) => {
  const sim = await makeSim(t)
  const { token, openid } = await csSetup(sim)
  await userAction(sim, { openid, kind: 'message' })
  t.equal((await postJson(sim, SEND, text(openid))).errcode, 41001)
  t.equal((await postJson(sim, `${SEND}?access_token=nope`, text(openid))).errcode, 40014)
  await postJson(sim, '/sim/faults', { path: SEND, errcode: 48001 })
  await postJson(sim, '/sim/faults', { path: BUSINESS_SEND, errcode: -1 })
  t.equal((await send(sim, token, text(openid))).errcode, 48001)
  t.equal((await send(sim, token, { ...text(openid), businessid: 1 }, BUSINESS_SEND)).errcode, -1)
  t.match((await sent(sim, openid)).window, { remaining: 5 }, 'faulted calls send nothing')
  t.match((await getJson(sim, '/sim/stats')).calls, { [SEND]: 3, [BUSINESS_SEND]: 1 })
})

t.test('reset forgets windows and messages, not users', async (t) => {
  const sim = await makeSim(t)
  const { token, openid } = await csSetup(sim)
  await userAction(sim, { openid, kind: 'message' })
  await send(sim, token, text(openid))
  sim.simState.reset()
  const fresh = await classicToken(sim)
  t.equal((await send(sim, fresh, text(openid))).errcode, 45015, 'still a user (not 40003), no window')
  t.same((await sent(sim, openid)).messages, [])
})

t.test('control input errors', async (t) => {
  const sim = await makeSim(t)
  const cases: Array<[string, string, unknown, RegExp]> = [
    ['POST', '/sim/user-action', { kind: 'message' }, /user|openid/],
    ['POST', '/sim/user-action', { user: 'a', kind: 'poke' }, /kind/],
    ['POST', '/sim/user-action', { openid: 'oUnknownxxxxxxxxxxxxxxxxxxxx', kind: 'message' }, /No simulated user/],
    ['POST', '/sim/user-action', { user: 'a', appId: 'wx0000000000000000', kind: 'message' }, /Unknown appId/],
    ['GET', '/sim/sent', undefined, /user|openid/],
    ['GET', '/sim/sent?openid=oUnknownxxxxxxxxxxxxxxxxxxxx', undefined, /No simulated user/]
  ]
  for (const [method, url, payload, message] of cases) {
    const res = await sim.inject({ method: method as 'POST', url, ...(payload === undefined ? {} : { payload: payload as Record<string, unknown> }) })
    t.equal(res.statusCode, 400, `${method} ${url} ${JSON.stringify(payload)}`)
    t.match(res.json(), { statusCode: 400, message }, 'says why')
  }
  t.match(await getJson(sim, '/sim/sent?user=zoe'), { window: null, typing: false, messages: [] }, 'a label is always a user')
})
