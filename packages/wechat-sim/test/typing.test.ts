import t from 'tap'
import { advance, getJson, makeSim, postJson } from './fixtures/sim.js'
import { OLD_TYPING, TYPING, csSetup, send, sent, text, userAction } from './fixtures/cs.js'

async function typing (sim: Parameters<typeof send>[0], token: string, touser: string, command: unknown, path = TYPING): Promise<number> {
  return (await postJson(sim, `${path}?access_token=${token}`, { touser, command })).errcode
}

t.test('Typing needs an open window and an exchange within 30 s', async (t) => {
  const sim = await makeSim(t)
  const { token, openid } = await csSetup(sim)
  t.equal(await typing(sim, token, openid, 'Typing'), 45080, 'no window, no exchange')
  await userAction(sim, { openid, kind: 'message' })
  t.equal(await typing(sim, token, openid, 'Typing'), 0, 'the user just wrote')
  t.equal((await sent(sim, openid)).typing, true)
  await advance(sim, 15_000)
  t.equal((await sent(sim, openid)).typing, false, 'typing lasts 15 s')
  t.equal(await typing(sim, token, openid, 'Typing'), 0, 'again, 15 s after the exchange')
  await advance(sim, 15_001)
  t.equal(await typing(sim, token, openid, 'Typing'), 45080, '30 s after the last exchange')
  t.equal((await send(sim, token, text(openid))).errcode, 0, 'the window is still open')
  t.equal(await typing(sim, token, openid, 'Typing'), 0, 'a sent message is an exchange too')
})

t.test('45081 while typing shows; sending a message or CancelTyping clears it', async (t) => {
  const sim = await makeSim(t)
  const { token, openid } = await csSetup(sim)
  await userAction(sim, { openid, kind: 'enter_session' })
  t.equal(await typing(sim, token, openid, 'Typing'), 0)
  const again = await postJson(sim, `${TYPING}?access_token=${token}`, { touser: openid, command: 'Typing' })
  t.equal(again.errcode, 45081)
  t.match(again.errmsg, /^already typing/)
  await advance(sim, 14_999)
  t.equal(await typing(sim, token, openid, 'Typing'), 45081, 'still showing at 14.999 s')
  t.equal((await send(sim, token, text(openid))).errcode, 0)
  t.equal((await sent(sim, openid)).typing, false, 'the message cleared it')
  t.equal(await typing(sim, token, openid, 'Typing'), 0)
  t.equal(await typing(sim, token, openid, 'CancelTyping'), 0)
  t.equal(await typing(sim, token, openid, 'CancelTyping'), 0, 'cancelling twice is fine')
  t.equal(await typing(sim, token, openid, 'Typing', OLD_TYPING), 0, 'the older path works the same')
})

t.test('typing needs an open window, not messages left in it', async (t) => {
  const sim = await makeSim(t, { enterSessionAllowance: 1 })
  const { token, openid } = await csSetup(sim)
  await userAction(sim, { openid, kind: 'enter_session' })
  await send(sim, token, text(openid))
  t.equal(await typing(sim, token, openid, 'Typing'), 0, 'quota used up, window open')
  await advance(sim, 60_000)
  await postJson(sim, `${TYPING}?access_token=${token}`, { touser: openid, command: 'CancelTyping' })
  t.equal(await typing(sim, token, openid, 'Typing'), 45080, 'window closed')
})

t.test('bad commands, users and bodies', async (t) => {
  const sim = await makeSim(t)
  const { token, openid } = await csSetup(sim)
  await userAction(sim, { openid, kind: 'message' })
  for (const command of ['typing', 'Cancel', '', 1, undefined]) t.equal(await typing(sim, token, openid, command), 45072, `command ${String(command)}`)
  t.equal(await typing(sim, token, 'oNeverSeenxxxxxxxxxxxxxxxxxx', 'Typing'), 40003)
  const form = await sim.inject({ method: 'POST', url: `${TYPING}?access_token=${token}`, headers: { 'content-type': 'text/plain' }, payload: 'Typing' })
  t.equal(form.json().errcode, 47001)
  t.equal((await postJson(sim, TYPING, { touser: openid, command: 'Typing' })).errcode, 41001)
  await postJson(sim, '/sim/faults', { path: OLD_TYPING, errcode: -1 })
  t.equal(await typing(sim, token, openid, 'Typing', OLD_TYPING), -1, 'faults per path')
  t.match((await getJson(sim, '/sim/stats')).calls, { [TYPING]: 8, [OLD_TYPING]: 1 })
})
