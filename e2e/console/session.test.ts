// The console's sessions in a real browser: logging in and out, the wrong-password answer, an admin managing
// agents (and a disabled agent's open console sent back to login), CSRF and the Content-Security-Policy.
import type { BrowserContext } from 'playwright-core'
import t from 'tap'
import { cspErrors, eventually, LIVE_MS, FILE_TIMEOUT_MS, NO_BROWSER, socketsClosed, startConsoleHarness, type ConsoleHarness } from './harness.js'

t.setTimeout(FILE_TIMEOUT_MS)
const h: ConsoleHarness | undefined = NO_BROWSER === false ? await startConsoleHarness(t) : undefined

t.test('an agent logs in: the header names them and the console socket opens', { skip: NO_BROWSER }, async (t) => {
  const agent = await h!.createAgent({ displayName: 'Li Wei' })
  const opened = await h!.openConsole(t)
  const { page } = opened
  await page.getByTestId('login-form').waitFor()
  await h!.screenshot(page, 'login')
  await page.getByTestId('login-login').fill(agent.login)
  await page.getByTestId('login-password').fill(agent.password)
  await page.getByTestId('login-submit').click()
  await page.getByTestId('whoami').waitFor({ timeout: LIVE_MS })
  t.equal(await page.getByTestId('whoami').textContent(), 'Li Wei')
  await page.locator('[data-testid="socket-state"][data-state="open"]').waitFor({ timeout: LIVE_MS })
  t.equal(await page.getByTestId('nav-agents').count(), 0, 'no agents screen for a plain agent')
  const cookies = await opened.context.cookies()
  t.match(cookies.find((c) => c.name === 'weapp_console'), { httpOnly: true, sameSite: 'Strict', path: '/' }, 'the console cookie, HttpOnly and SameSite=Strict')
  t.same(cspErrors(opened), [], 'no CSP violation')
})

t.test('a wrong password and an unknown login get the same error, which does not say which part was wrong', { skip: NO_BROWSER }, async (t) => {
  const agent = await h!.createAgent()
  const opened = await h!.openConsole(t)
  const { page } = opened
  async function tryLogin (login: string, password: string): Promise<string> {
    await page.getByTestId('login-login').fill(login)
    await page.getByTestId('login-password').fill(password)
    await page.getByTestId('login-submit').click()
    await page.getByTestId('login-error').waitFor({ timeout: LIVE_MS })
    return (await page.getByTestId('login-error').textContent())?.trim() ?? ''
  }
  const wrongPassword = await tryLogin(agent.login, `${agent.password}x`)
  await page.reload()
  const unknownLogin = await tryLogin(`nobody-${agent.login}`, agent.password)
  t.not(wrongPassword, '', 'an error is shown')
  t.equal(unknownLogin, wrongPassword, 'the same words for an unknown login and a wrong password')
  // "Login or password is wrong" names both; naming one of them alone would say which part was wrong.
  t.equal(/login|user ?name|account/i.test(wrongPassword), /password/i.test(wrongPassword), `names both parts or neither (${wrongPassword})`)
  t.notMatch(wrongPassword, /unknown|no such|not found|does not exist/i, 'does not say the login is unknown')
  t.equal(await page.getByTestId('whoami').count(), 0, 'still logged out')
  t.same((await opened.context.cookies()).filter((c) => c.name.endsWith('weapp_console')), [], 'no console cookie')
})

t.test('logout closes the console socket, and the old cookie is refused (401)', { skip: NO_BROWSER }, async (t) => {
  const agent = await h!.createAgent()
  const opened = await h!.loginAs(t, agent)
  const { page, context } = opened
  const cookie = (await context.cookies()).find((c) => c.name.endsWith('weapp_console'))
  t.ok(cookie, 'logged in with a console cookie')
  const oldCookie = `${cookie!.name}=${cookie!.value}`
  t.equal((await h!.api(null, 'GET', '/api/console/me', undefined, { cookie: oldCookie })).status, 200, 'the cookie works before logout')

  await page.getByTestId('logout').click()
  await page.getByTestId('login-form').waitFor({ timeout: LIVE_MS })
  await eventually(t, () => socketsClosed(opened), 'the console socket to close')
  // The header's socket indicator, where the logged-out screen still shows one, says closed.
  const indicator = page.getByTestId('socket-state')
  if (await indicator.count() > 0) t.equal(await indicator.getAttribute('data-state'), 'closed')
  const me = await h!.api(null, 'GET', '/api/console/me', undefined, { cookie: oldCookie })
  t.equal(me.status, 401, 'the old cookie is refused')
  t.same(cspErrors(opened), [], 'no CSP violation')
})

t.test('an admin creates an agent on the agents screen, and the new agent logs in', { skip: NO_BROWSER }, async (t) => {
  const opened = await h!.loginAs(t, h!.admin)
  const { page } = opened
  await page.getByTestId('nav-agents').click()
  await page.getByTestId('agents-table').waitFor({ timeout: LIVE_MS })
  const login = `new-${Date.now().toString(36)}`
  const password = 'a long enough password 1'
  await page.getByTestId('agent-create-login').fill(login)
  await page.getByTestId('agent-create-name').fill('Zhang San')
  await page.getByTestId('agent-create-role').selectOption('agent')
  await page.getByTestId('agent-create-password').fill(password)
  await page.getByTestId('agent-create-submit').click()
  const row = page.locator(`[data-testid="agent-row"][data-login="${login}"]`)
  await row.waitFor({ timeout: LIVE_MS })
  t.match(await row.textContent(), /Zhang San/)
  await h!.screenshot(page, 'agents')

  // A weak password is refused with the service's words; nothing is created.
  await page.getByTestId('agent-create-login').fill(`${login}-weak`)
  await page.getByTestId('agent-create-name').fill('Weak')
  await page.getByTestId('agent-create-password').fill('short')
  await page.getByTestId('agent-create-submit').click()
  await page.getByTestId('agents-error').waitFor({ timeout: LIVE_MS })
  t.not((await page.getByTestId('agents-error').textContent())?.trim(), '', 'the error is explained')
  t.equal(await page.locator(`[data-testid="agent-row"][data-login="${login}-weak"]`).count(), 0, 'not created')

  const created = await h!.loginAs(t, { login, password })
  t.equal(await created.page.getByTestId('whoami').textContent(), 'Zhang San')
  t.same(cspErrors(opened), [], 'no CSP violation on the agents screen')
})

t.test('an admin disables an agent: that agent\'s open console is sent to login at once', { skip: NO_BROWSER }, async (t) => {
  const agent = await h!.createAgent()
  const agentConsole = await h!.loginAs(t, agent)
  const adminConsole = await h!.loginAs(t, h!.admin)
  const { page } = adminConsole
  await page.getByTestId('nav-agents').click()
  const row = page.locator(`[data-testid="agent-row"][data-login="${agent.login}"]`)
  await row.waitFor({ timeout: LIVE_MS })
  await row.getByTestId('agent-disable').click()
  await row.getByTestId('agent-enable').waitFor({ timeout: LIVE_MS })

  // No click in the agent's console: its socket is closed by the server, and the console shows the login.
  await agentConsole.page.getByTestId('login-form').waitFor({ timeout: LIVE_MS })
  t.ok(socketsClosed(agentConsole), 'its console socket is closed')
  t.equal((await h!.api(null, 'GET', '/api/console/me', undefined, { cookie: await cookieOf(agentConsole.context) })).status, 401, 'its cookie no longer works')
  const again = await h!.api(null, 'POST', '/api/console/login', { login: agent.login, password: agent.password })
  t.match(again, { status: 403, body: { code: 'SESSION_AGENT_DISABLED' } }, 'a disabled agent cannot log in again')
})

t.test('a state-changing request without the CSRF header is refused (403 GATEWAY_CSRF_REJECTED) and changes nothing', { skip: NO_BROWSER }, async (t) => {
  const agent = await h!.createAgent()
  const opened = await h!.loginAs(t, agent)
  // The page's own fetch: same origin, the cookie sent, the Origin header right; only x-csrf-token is missing.
  const reply = await opened.page.evaluate(async () => {
    const res = await fetch('/api/console/logout', { method: 'POST', credentials: 'same-origin' })
    return { status: res.status, body: await res.json() }
  })
  t.match(reply, { status: 403, body: { code: 'GATEWAY_CSRF_REJECTED' } })
  t.equal((await h!.api(null, 'GET', '/api/console/me', undefined, { cookie: await cookieOf(opened.context) })).status, 200, 'still logged in: the logout did not happen')
  t.equal(await opened.page.getByTestId('socket-state').getAttribute('data-state'), 'open')
})

t.test('/console/ carries the strict CSP, and using the console breaks none of it', { skip: NO_BROWSER }, async (t) => {
  const res = await fetch(`${h!.base}/console/`)
  t.equal(res.status, 200)
  const csp = res.headers.get('content-security-policy') ?? ''
  t.match(csp, /default-src 'none'/)
  t.match(csp, /script-src 'self'(;|$)/, 'scripts from the console\'s own origin only')
  t.match(csp, /connect-src 'self'/)
  t.match(csp, /frame-ancestors 'none'/)
  t.equal(res.headers.get('x-content-type-options'), 'nosniff')

  // An agent's walk through the console: the inbox, a conversation, a reply; an admin's agents screen.
  const user = h!.newUser()
  const openid = await h!.userSends.text(user, 'hello from CSP land')
  const agent = await h!.createAgent()
  const opened = await h!.loginAs(t, agent)
  const { page } = opened
  await page.locator(`[data-testid="conv-item"][data-openid="${openid}"]`).click({ timeout: LIVE_MS })
  await page.locator(`[data-testid="conv-view"][data-openid="${openid}"] [data-testid="msg"]`).first().waitFor({ timeout: LIVE_MS })
  await page.getByTestId('reply-text').fill('a reply under CSP')
  await page.getByTestId('reply-send').click()
  await page.locator('[data-testid="msg"][data-direction="out"][data-state="sent"]').waitFor({ timeout: LIVE_MS })
  const admin = await h!.loginAs(t, h!.admin)
  await admin.page.getByTestId('nav-agents').click()
  await admin.page.getByTestId('agents-table').waitFor({ timeout: LIVE_MS })
  t.same(cspErrors(opened), [], 'no CSP violation in the inbox')
  t.same(cspErrors(admin), [], 'no CSP violation on the agents screen')
})

async function cookieOf (context: BrowserContext): Promise<string> {
  const cookie = (await context.cookies()).find((c) => c.name.endsWith('weapp_console'))
  return cookie === undefined ? '' : `${cookie.name}=${cookie.value}`
}
