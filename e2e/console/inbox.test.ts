// The inbox in a real browser, two agents in two browser contexts: a user's push shows in both lists without a
// reload, a claim is seen by the other agent, what an agent sends reaches WeChat (the simulator's /sim/sent)
// with the right bodies, WeChat's refusals are explained, and notes never leave the system.
import t from 'tap'
import type { Page } from 'playwright-core'
import { cspErrors, eventually, LIVE_MS, FILE_TIMEOUT_MS, NO_BROWSER, PNG, startConsoleHarness, type ConsoleHarness } from './harness.js'

t.setTimeout(FILE_TIMEOUT_MS)
const h: ConsoleHarness | undefined = NO_BROWSER === false ? await startConsoleHarness(t) : undefined

const item = (page: Page, openid: string) => page.locator(`[data-testid="conv-item"][data-openid="${openid}"]`)
const view = (page: Page, openid: string) => page.locator(`[data-testid="conv-view"][data-openid="${openid}"]`)
const text = async (page: Page, testId: string): Promise<string> => (await page.getByTestId(testId).first().textContent())?.trim() ?? ''

/** Shows every conversation (open ones) in the list, whatever the console's default filter. */
async function showAll (page: Page): Promise<void> {
  await page.getByTestId('conv-filter-view').selectOption('all')
  await page.getByTestId('conv-filter-status').selectOption('open')
}

/** Opens a conversation from the list and waits for its view and its messages. */
async function openConversation (page: Page, openid: string): Promise<void> {
  await item(page, openid).click({ timeout: LIVE_MS })
  await view(page, openid).locator('[data-testid="msg"]').first().waitFor({ timeout: LIVE_MS })
}

/** Sends the reply box's text and waits for the outbound message in the given state. */
async function sendText (page: Page, body: string, state: 'sent' | 'failed' = 'sent'): Promise<void> {
  await page.getByTestId('reply-text').fill(body)
  await page.getByTestId('reply-send').click()
  await page.locator(`[data-testid="msg"][data-direction="out"][data-state="${state}"]`, { hasText: body }).waitFor({ timeout: LIVE_MS })
}

t.test('a push from the simulator appears in both agents\' lists, with its unread badge and preview, without a reload', { skip: NO_BROWSER }, async (t) => {
  const [a, b] = [await h!.loginAs(t, await h!.createAgent()), await h!.loginAs(t, await h!.createAgent())]
  for (const { page } of [a, b]) {
    await showAll(page)
    // Set before the push: still there after it only if the page was not reloaded.
    await page.evaluate(() => { (window as unknown as { notReloaded: boolean }).notReloaded = true })
  }
  const user = h!.newUser()
  const openid = await h!.userSends.text(user, 'Where is my order #1024?')
  for (const { page } of [a, b]) {
    await item(page, openid).waitFor({ timeout: LIVE_MS })
    await eventually(t, async () => await item(page, openid).getByTestId('conv-unread').textContent() === '1', 'the unread badge to say 1')
    t.equal((await item(page, openid).getByTestId('conv-preview').textContent())?.trim(), 'Where is my order #1024?')
    t.match(await page.title(), /^\(\d+\) Console$/, 'the unread count in the tab title')
    t.equal(await page.evaluate(() => (window as unknown as { notReloaded?: boolean }).notReloaded), true, 'no reload')
  }

  // A second message: the badge counts it, the preview follows.
  await h!.userSends.text(user, 'Hello?')
  for (const { page } of [a, b]) {
    await eventually(t, async () => await item(page, openid).getByTestId('conv-unread').textContent() === '2', 'the unread badge to say 2')
    await eventually(t, async () => (await item(page, openid).getByTestId('conv-preview').textContent())?.trim() === 'Hello?', 'the preview to follow')
  }
  // Opening it reads it: A's badge goes, B's stays.
  await openConversation(a.page, openid)
  await eventually(t, async () => await item(a.page, openid).getByTestId('conv-unread').count() === 0, 'A\'s badge to go once A opened it')
  t.equal(await item(b.page, openid).getByTestId('conv-unread').textContent(), '2', 'B has not read it')
  t.same([...cspErrors(a), ...cspErrors(b)], [], 'no CSP violation')
})

t.test('one agent claims a conversation; the other sees who has it', { skip: NO_BROWSER }, async (t) => {
  const agentA = await h!.createAgent({ displayName: 'Agent Alpha' })
  const [a, b] = [await h!.loginAs(t, agentA), await h!.loginAs(t, await h!.createAgent())]
  for (const { page } of [a, b]) await showAll(page)
  const openid = await h!.userSends.text(h!.newUser(), 'Can someone help me?')
  await openConversation(a.page, openid)
  await openConversation(b.page, openid)
  await a.page.getByTestId('claim').click()
  await eventually(t, async () => /\byou\b|Agent Alpha/.test(await text(a.page, 'assignee')), 'A to see the conversation as its own')
  await eventually(t, async () => (await text(b.page, 'assignee')).includes('Agent Alpha'), 'B to see Agent Alpha as the assignee (live)')
  await eventually(t, async () => (await item(b.page, openid).getByTestId('conv-assignee').textContent())?.includes('Agent Alpha'), 'B\'s list to show the assignee')
})

t.test('inbound text, image, card and session entry are shown in the conversation', { skip: NO_BROWSER }, async (t) => {
  const opened = await h!.loginAs(t, await h!.createAgent())
  const { page } = opened
  await showAll(page)
  const user = h!.newUser()
  const openid = await h!.userSends.sessionEntry(user, 'order-1024')
  await h!.userSends.text(user, 'I need help with my order')
  await h!.userSends.image(user)
  await h!.userSends.card(user, { title: 'Order 1024', pagepath: 'pages/order/detail?id=1024' })
  await openConversation(page, openid)
  const conv = view(page, openid)
  await eventually(t, async () => await conv.locator('[data-testid="msg"][data-direction="in"]').count() === 4, 'the four inbound messages')
  t.match(await conv.getByTestId('msg-event').first().textContent(), /order-1024/, 'the session entry with its SessionFrom')
  t.equal((await conv.getByTestId('msg-text').first().textContent())?.trim(), 'I need help with my order')
  const img = conv.locator('img[data-testid="msg-image"]').first()
  t.match(await img.getAttribute('src'), /\/api\/console\/media\//, 'the picture through the media proxy')
  await eventually(t, async () => await img.evaluate((el: HTMLImageElement) => el.complete && el.naturalWidth > 0), 'the picture to load')
  const card = await conv.getByTestId('msg-card').first().textContent()
  t.match(card, /Order 1024/)
  t.match(card, /pages\/order\/detail\?id=1024/)
  await h!.screenshot(page, 'inbox')
  t.same(cspErrors(opened), [], 'no CSP violation (the picture is same-origin)')
})

t.test('text, an image and a card sent from the console reach WeChat with the right bodies', { skip: NO_BROWSER }, async (t) => {
  const agent = await h!.createAgent({ displayName: 'Agent Sender' })
  const opened = await h!.loginAs(t, agent)
  const { page } = opened
  await showAll(page)
  const openid = await h!.userSends.text(h!.newUser(), 'Please send me the details')
  await openConversation(page, openid)

  await sendText(page, 'Here are the details')
  const sentText = page.locator('[data-testid="msg"][data-direction="out"][data-state="sent"]', { hasText: 'Here are the details' })
  t.equal((await sentText.getByTestId('msg-sender').textContent())?.trim(), 'Agent Sender', 'which agent sent it')

  await page.getByTestId('reply-image-input').setInputFiles({ name: 'dot.png', mimeType: 'image/png', buffer: PNG })
  await page.locator('[data-testid="msg"][data-direction="out"][data-state="sent"] [data-testid="msg-image"]').waitFor({ timeout: LIVE_MS })

  await page.getByTestId('card-open').click()
  await page.getByTestId('card-title').fill('Your order')
  await page.getByTestId('card-pagepath').fill('pages/order/detail?id=7')
  await page.getByTestId('card-thumb-input').setInputFiles({ name: 'thumb.png', mimeType: 'image/png', buffer: PNG })
  await page.getByTestId('card-send').click()
  await page.locator('[data-testid="msg"][data-direction="out"][data-state="sent"] [data-testid="msg-card"]').waitFor({ timeout: LIVE_MS })

  const { messages } = await h!.sent(openid)
  t.equal(messages.length, 3, 'three messages reached WeChat')
  t.match(messages[0], { msgtype: 'text', text: { content: 'Here are the details' } })
  t.match(messages[1], { msgtype: 'image', image: { media_id: /\S/ } })
  t.match(messages[2], { msgtype: 'miniprogrampage', miniprogrampage: { title: 'Your order', pagepath: 'pages/order/detail?id=7', thumb_media_id: /\S/ } })
  t.equal(await page.locator('[data-testid="msg"][data-direction="out"][data-state="failed"]').count(), 0, 'none failed')
  t.same(cspErrors(opened), [], 'no CSP violation')
})

t.test('WeChat\'s 45047 (the window\'s messages used up) is shown failed and explained', { skip: NO_BROWSER }, async (t) => {
  const opened = await h!.loginAs(t, await h!.createAgent())
  const { page } = opened
  await showAll(page)
  const openid = await h!.userSends.text(h!.newUser(), 'Are you there?')
  await openConversation(page, openid)
  await h!.sim.fault({ path: '/cgi-bin/message/custom/send', errcode: 45047 })
  await sendText(page, 'This one WeChat refuses', 'failed')
  const failed = page.locator('[data-testid="msg"][data-direction="out"][data-state="failed"]', { hasText: 'This one WeChat refuses' })
  const explained = (await failed.getByTestId('msg-error').textContent())?.trim() ?? ''
  t.match(explained, /[a-z]{3,}\s+[a-z]{3,}\s+[a-z]{3,}/i, `explained in words (${explained})`)
  t.match(explained, /no (more )?messages? left|limit|quota|used up|allowance|too many|exceeded/i, 'says the allowance is used up')
  t.equal((await h!.sent(openid)).messages.length, 0, 'nothing reached the user')
})

t.test('notes are added, seen by the other agent, and never reach WeChat', { skip: NO_BROWSER }, async (t) => {
  const [a, b] = [await h!.loginAs(t, await h!.createAgent({ displayName: 'Note Taker' })), await h!.loginAs(t, await h!.createAgent())]
  for (const { page } of [a, b]) await showAll(page)
  const openid = await h!.userSends.text(h!.newUser(), 'My parcel is damaged')
  await openConversation(a.page, openid)
  await openConversation(b.page, openid)
  await a.page.getByTestId('note-text').fill('Customer VIP: refund without asking for photos')
  await a.page.getByTestId('note-add').click()
  for (const { page } of [a, b]) {
    await page.getByTestId('note').filter({ hasText: 'Customer VIP: refund without asking for photos' }).waitFor({ timeout: LIVE_MS })
  }
  t.match(await b.page.getByTestId('note').first().textContent(), /Note Taker/, 'the author is shown')
  t.equal((await h!.sent(openid)).messages.length, 0, 'nothing reached WeChat')
  t.equal(await a.page.locator('[data-testid="msg"][data-direction="out"]').count(), 0, 'the note is no outbound message')
})

/** Pushes `count` texts "<prefix> 1".."<prefix> N" from `user`, one second apart in CreateTime (a fixed order). */
async function userWritesMany (user: string, prefix: string, from: number, count: number, firstCreateTime: number): Promise<string> {
  let openid = ''
  for (let i = from; i < from + count; i++) {
    const result = await h!.sim.push({ user, message: { MsgType: 'text', Content: `${prefix} ${i}`, CreateTime: firstCreateTime + i } })
    if (!result.acceptable) throw new Error(`push ${i} refused: ${JSON.stringify(result.attempts)}`)
    openid = String(result.message.FromUserName)
  }
  return openid
}

const shownTexts = async (page: Page, openid: string): Promise<string[]> =>
  (await view(page, openid).locator('[data-testid="msg"][data-direction="in"] [data-testid="msg-text"]').allTextContents()).map((s) => s.trim())
const numbered = (prefix: string, from: number, to: number): string[] => Array.from({ length: to - from + 1 }, (_, i) => `${prefix} ${from + i}`)

t.test('a long history: pages of 50 loaded on request, oldest first; past 200 live messages the earlier ones wait behind a button', { skip: NO_BROWSER }, async (t) => {
  const { page } = await h!.loginAs(t, await h!.createAgent())
  await showAll(page)
  const firstCreateTime = Math.floor(Date.now() / 1000) - 3600

  // 120 messages before the conversation is opened: the newest 50, then 50 more and the last 20 on request.
  const old = await userWritesMany(h!.newUser(), 'history', 1, 120, firstCreateTime)
  await openConversation(page, old)
  await eventually(t, async () => (await shownTexts(page, old)).length === 50, 'the newest page (50) shown')
  t.same(await shownTexts(page, old), numbered('history', 71, 120), 'the newest 50, oldest first')
  t.equal((await page.getByTestId('load-older').textContent())?.trim(), 'Load older messages')
  await page.getByTestId('load-older').click()
  await eventually(t, async () => (await shownTexts(page, old)).length === 100, 'a second page')
  await page.getByTestId('load-older').click()
  await eventually(t, async () => (await shownTexts(page, old)).length === 120, 'the last 20')
  t.same(await shownTexts(page, old), numbered('history', 1, 120), 'the whole history, in order, none twice')
  t.equal(await page.getByTestId('load-older').count(), 0, 'nothing older: no button')

  // 230 messages arriving while a conversation is open: the newest 200 are rendered, the 31 before wait.
  const user = h!.newUser()
  const live = await userWritesMany(user, 'live', 0, 1, firstCreateTime)
  await openConversation(page, live)
  await userWritesMany(user, 'live', 1, 230, firstCreateTime)
  await eventually(t, async () => (await shownTexts(page, live)).at(-1) === 'live 230', 'the last live message shown', 60_000)
  t.same(await shownTexts(page, live), numbered('live', 31, 230), 'the newest 200, in order')
  t.equal((await page.getByTestId('load-older').textContent())?.trim(), 'Show 31 earlier messages')
  await page.getByTestId('load-older').click()
  await eventually(t, async () => (await shownTexts(page, live)).length === 231, 'the earlier 31 shown')
  t.same(await shownTexts(page, live), numbered('live', 0, 230), 'all 231, in order')
  t.equal(await page.getByTestId('load-older').count(), 0, 'all loaded and shown: no button')
})
