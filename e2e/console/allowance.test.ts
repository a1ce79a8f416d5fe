// The allowance meter in a real browser: WeChat's send window (5 messages for 48 h after a user message, 2 for
// a minute after a session entry) counted down by real sends and by the page's clock (the server's window runs
// on real time, so the count is driven by sends and the countdown text by `page.clock`), to a disabled reply
// box that says why; and two agents racing for the last message: exactly one reaches WeChat.
import type { Page } from 'playwright-core'
import t from 'tap'
import { cspErrors, eventually, LIVE_MS, FILE_TIMEOUT_MS, NO_BROWSER, startConsoleHarness, type ConsoleHarness, type OpenOptions } from './harness.js'

t.setTimeout(FILE_TIMEOUT_MS)
const h: ConsoleHarness | undefined = NO_BROWSER === false ? await startConsoleHarness(t) : undefined

const withClock: OpenOptions = { beforeLoad: async (page) => await page.clock.install() }
const meter = async (page: Page): Promise<string> => (await page.getByTestId('meter').textContent())?.trim() ?? ''
const MESSAGE_METER = /^(\d+)\/5 · closes in (\d+) h (\d+) m$/
const SESSION_METER = /^(\d+) · (\d+) s$/

/** The meter of a user-message window: messages left and minutes to the close. */
async function messageMeter (page: Page): Promise<{ left: number, minutes: number }> {
  const m = MESSAGE_METER.exec(await meter(page))
  if (m === null) throw new Error(`not a user-message meter: "${await meter(page)}"`)
  return { left: Number(m[1]), minutes: Number(m[2]) * 60 + Number(m[3]) }
}

async function openConversation (page: Page, openid: string): Promise<void> {
  await page.getByTestId('conv-filter-view').selectOption('all')
  await page.locator(`[data-testid="conv-item"][data-openid="${openid}"]`).click({ timeout: LIVE_MS })
  await page.locator(`[data-testid="conv-view"][data-openid="${openid}"] [data-testid="msg"]`).first().waitFor({ timeout: LIVE_MS })
}

async function send (page: Page, body: string): Promise<void> {
  await page.getByTestId('reply-text').fill(body)
  await page.getByTestId('reply-send').click()
  await page.locator('[data-testid="msg"][data-direction="out"][data-state="sent"]', { hasText: body }).waitFor({ timeout: LIVE_MS })
}

t.test('the meter counts a user-message window down, by sends and by the clock, to a disabled reply box', { skip: NO_BROWSER }, async (t) => {
  const opened = await h!.loginAs(t, await h!.createAgent(), withClock)
  const { page } = opened
  const openid = await h!.userSends.text(h!.newUser(), 'Hi, a question about delivery')
  await openConversation(page, openid)
  await eventually(t, async () => MESSAGE_METER.test(await meter(page)), 'a user-message meter')
  const fresh = await messageMeter(page)
  t.equal(fresh.left, 5, '5 messages for a user message')
  t.ok(fresh.minutes >= 47 * 60 + 55 && fresh.minutes <= 48 * 60, `closes in about 48 h (${await meter(page)})`)

  // The page's clock an hour on: the countdown says an hour less (the count is the server's).
  await page.clock.fastForward('01:00:00')
  await eventually(t, async () => (await messageMeter(page)).minutes <= fresh.minutes - 59, 'the countdown to lose an hour')
  t.ok((await messageMeter(page)).minutes >= fresh.minutes - 61, `an hour, not more (${await meter(page)})`)
  t.equal(await meter(page).then((m) => m.startsWith('5/5 ')), true, 'no message used by the clock')

  // Real sends use the window up.
  for (let i = 1; i <= 5; i++) {
    await send(page, `answer ${i}`)
    await eventually(t, async () => (await messageMeter(page).catch(() => ({ left: -1 }))).left === 5 - i, `the meter to say ${5 - i}/5`)
  }
  t.equal(await page.getByTestId('reply-text').isDisabled(), true, 'the reply box is disabled')
  const reason = (await page.getByTestId('reply-disabled-reason').textContent())?.trim() ?? ''
  t.match(reason, /no (more )?messages? left|used up|no more/i, `says why (${reason})`)
  t.equal((await h!.sent(openid)).messages.length, 5, 'five messages reached WeChat')
  t.same(cspErrors(opened), [], 'no CSP violation')
})

t.test('after a session entry the meter counts seconds, and the reply box closes with the window', { skip: NO_BROWSER }, async (t) => {
  const opened = await h!.loginAs(t, await h!.createAgent(), withClock)
  const { page } = opened
  const openid = await h!.userSends.sessionEntry(h!.newUser(), 'product-42')
  await openConversation(page, openid)
  await eventually(t, async () => SESSION_METER.test(await meter(page)), 'a session meter ("2 · 48 s")')
  const [, left, seconds] = SESSION_METER.exec(await meter(page))!
  t.equal(left, '2', '2 messages after a session entry')
  t.ok(Number(seconds) > 30 && Number(seconds) <= 60, `a minute at most (${await meter(page)})`)
  t.equal(await page.getByTestId('reply-text').isDisabled(), false, 'a reply can be written')

  await page.clock.fastForward(20_000)
  await eventually(t, async () => {
    const now = SESSION_METER.exec(await meter(page))
    return now !== null && Number(now[2]) <= Number(seconds) - 19 && Number(now[2]) >= Number(seconds) - 21
  }, 'the seconds to count down with the clock')

  await page.clock.fastForward(45_000)
  await page.getByTestId('reply-disabled-reason').waitFor({ timeout: LIVE_MS })
  t.match(await page.getByTestId('reply-disabled-reason').textContent(), /closed/i, 'the window is closed')
  t.equal(await page.getByTestId('reply-text').isDisabled(), true, 'the reply box is disabled')
  t.same(cspErrors(opened), [], 'no CSP violation')
})

t.test('two agents race for the last message: exactly one reaches WeChat, the other sees why', { skip: NO_BROWSER }, async (t) => {
  const agentA = await h!.createAgent()
  const openid = await h!.userSends.text(h!.newUser(), 'Tell me everything')
  // Four of the five messages used through the API: one left.
  const session = await h!.apiLogin(agentA)
  for (let i = 1; i <= 4; i++) {
    const reply = await h!.api(session, 'POST', `/api/console/conversations/${openid}/messages`, { type: 'text', text: `part ${i}` })
    t.equal(reply.status, 201, `part ${i} sent`)
  }
  const [a, b] = [await h!.loginAs(t, agentA), await h!.loginAs(t, await h!.createAgent())]
  for (const { page } of [a, b]) {
    await openConversation(page, openid)
    await eventually(t, async () => (await meter(page)).startsWith('1/5 '), 'the meter to say 1/5')
  }
  // Both sends leave their browsers before either is answered: each is held until the other is out too (else
  // the winner's live update could disable the loser's box before its click, and nothing would race).
  let bothOut!: () => void
  const released = new Promise<void>((resolve) => { bothOut = resolve })
  let out = 0
  for (const { page } of [a, b]) {
    await page.route((url) => url.pathname === `/api/console/conversations/${openid}/messages`, async (route) => {
      if (route.request().method() !== 'POST') return await route.continue()
      if (++out === 2) bothOut()
      await released
      await route.continue()
    })
  }
  await a.page.getByTestId('reply-text').fill('the last word, from A')
  await b.page.getByTestId('reply-text').fill('the last word, from B')
  await Promise.all([a.page.getByTestId('reply-send').click(), b.page.getByTestId('reply-send').click()])
  await released

  await eventually(t, async () => (await h!.sent(openid)).messages.length >= 5, 'the winner to reach WeChat')
  const messages = (await h!.sent(openid)).messages
  const contentOf = (m: { [field: string]: unknown }): string => String((m.text as { content?: string } | undefined)?.content)
  const last = messages.filter((m) => contentOf(m).startsWith('the last word'))
  t.equal(messages.length, 5, 'five in all: never six')
  t.equal(last.length, 1, 'exactly one of the two')
  const winner = last[0] !== undefined && contentOf(last[0]).endsWith('from A') ? a : b
  const loser = winner === a ? b : a
  const loserText = winner === a ? 'the last word, from B' : 'the last word, from A'
  await winner.page.locator('[data-testid="msg"][data-direction="out"][data-state="sent"]', { hasText: /the last word/ }).waitFor({ timeout: LIVE_MS })
  const refused = loser.page.locator('[data-testid="msg"][data-direction="out"][data-state="failed"]', { hasText: loserText })
  await refused.first().waitFor({ timeout: LIVE_MS })
  const why = (await refused.first().getByTestId('msg-error').textContent())?.trim() ?? ''
  t.match(why, /no (more )?messages? left|used up|no more/i, `the loser sees why (${why})`)
  for (const { page } of [a, b]) await page.getByTestId('reply-disabled-reason').waitFor({ timeout: LIVE_MS })
  t.pass('both reply boxes are disabled: none left')
  // cs-messaging records the refusal and publishes it: two seconds for that event to reach the loser's console,
  // which must still show its refused message once, not twice.
  await new Promise((resolve) => setTimeout(resolve, 2000))
  t.equal(await refused.count(), 1, 'the loser sees its refused message once')
})
