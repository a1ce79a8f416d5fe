import { createHash } from 'node:crypto'
import t from 'tap'
import { BusChannels, CONSOLE_COOKIE_HOST, CONSOLE_COOKIE_PLAIN, type BusEvent } from '@weapp/common'
import { waitFor } from '@weapp/test-kit'
import type { MemoryAgentSessionsRepository } from '../src/repositories/agents-memory.js'
import { ADMIN_PASSWORD, AGENT_PASSWORD, asAgent, consoleSetup, cookieToken, loginAgent, postLogin, resolveToken, seedAgent } from './fixtures/console.js'
import { callInternal } from './fixtures/harness.js'

const sha256 = (s: string): string => createHash('sha256').update(s, 'utf8').digest('hex')
const MINUTE = 60_000
const HOUR = 3_600_000

t.test('login: 200 ConsoleSession and the cookie; me answers the same session; lastLoginAt recorded', async (t) => {
  const { app, clock } = await consoleSetup(t)
  await seedAgent(app, 'alice', 'admin')
  const res = await postLogin(app, 'Alice', ADMIN_PASSWORD)
  t.equal(res.statusCode, 200, 'the login is case-folded')
  const body = res.json()
  t.match(body, { agent: { login: 'alice', displayName: 'alice name', role: 'admin', disabled: false, lastLoginAt: new Date(clock.ms).toISOString() } })
  t.match(body.csrfToken, /^[A-Za-z0-9_-]{43}$/, 'a 256-bit CSRF token')
  t.equal(body.expiresAt, new Date(clock.ms + HOUR).toISOString(), 'idle expiry: CONSOLE_SESSION_IDLE_SEC 3600')
  t.equal(body.absoluteExpiresAt, new Date(clock.ms + 12 * HOUR).toISOString(), 'absolute: CONSOLE_SESSION_MAX_SEC 43200')
  t.notOk(JSON.stringify(body).includes('scrypt'), 'never the password hash')
  const token = cookieToken(res)
  t.match(token, /^[A-Za-z0-9_-]{43}$/, 'a 256-bit token, base64url')

  const resolved = await resolveToken(app, token)
  t.equal(resolved.statusCode, 200)
  const { identity, csrfToken, expiresAt } = resolved.json()
  t.same(identity, { kind: 'agent', agentId: body.agent.id, login: 'alice', displayName: 'alice name', role: 'admin', sessionId: identity.sessionId, absoluteExpiresAt: body.absoluteExpiresAt })
  t.not(identity.sessionId, token, 'the session id is not the cookie')
  t.equal(csrfToken, body.csrfToken)
  t.equal(expiresAt, body.expiresAt)

  const me = await asAgent(app, identity, 'GET', '/api/console/me')
  t.equal(me.statusCode, 200)
  t.same(me.json(), body)
  const stored = await app.agentSessionsRepository.findById(identity.sessionId)
  t.equal(stored?.tokenHash, sha256('console:' + token), 'only the hash is stored: credentialHash console')
  t.notOk(JSON.stringify(stored).includes(token))
})

t.test('cookie attributes: weapp_console on http; __Host-weapp_console with Secure when CONSOLE_COOKIE_SECURE', async (t) => {
  for (const [secure, name] of [[false, CONSOLE_COOKIE_PLAIN], [true, CONSOLE_COOKIE_HOST]] as const) {
    const { app } = await consoleSetup(t, { CONSOLE_COOKIE_SECURE: String(secure), CONSOLE_SESSION_MAX_SEC: '7200' })
    await seedAgent(app, 'alice')
    const login = await postLogin(app, 'alice', AGENT_PASSWORD)
    const token = cookieToken(login)
    const expected = `${name}=${token}; Path=/; Max-Age=7200; HttpOnly; SameSite=Strict${secure ? '; Secure' : ''}`
    t.equal(login.headers['set-cookie'], expected, `secure=${String(secure)}`)
    const { identity } = (await resolveToken(app, token)).json()
    const logout = await asAgent(app, identity, 'POST', '/api/console/logout')
    t.equal(logout.statusCode, 204)
    t.equal(logout.headers['set-cookie'], `${name}=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict${secure ? '; Secure' : ''}`, 'logout clears it')
  }
})

t.test('a wrong password and an unknown login get the same 401; a disabled agent 403 only with the right password', async (t) => {
  const { app } = await consoleSetup(t)
  const id = await seedAgent(app, 'alice')
  const wrong = await postLogin(app, 'alice', 'not-the-password-123')
  const unknown = await postLogin(app, 'nobody', AGENT_PASSWORD)
  t.equal(wrong.statusCode, 401)
  t.same(wrong.json(), { statusCode: 401, code: 'SESSION_CONSOLE_LOGIN_FAILED', error: 'Unauthorized', message: 'Login or password is wrong' })
  t.same(unknown.json(), wrong.json(), 'the same body: nothing says which part was wrong')
  t.notOk(wrong.headers['set-cookie'])
  t.notOk(unknown.headers['set-cookie'])

  await app.agentsRepository.update(id, { disabled: true })
  const disabledWrong = await postLogin(app, 'alice', 'not-the-password-123')
  t.equal(disabledWrong.json().code, 'SESSION_CONSOLE_LOGIN_FAILED', 'disabled is not revealed without the password')
  const disabled = await postLogin(app, 'alice', AGENT_PASSWORD)
  t.equal(disabled.statusCode, 403)
  t.same(disabled.json(), { statusCode: 403, code: 'SESSION_AGENT_DISABLED', error: 'Forbidden', message: 'This agent account is disabled' })
  t.notOk(disabled.headers['set-cookie'])

  const metrics = await callInternal(app, { url: '/metrics' })
  t.match(metrics.body, /session_console_logins_total\{outcome="failed"\} 3/)
  t.match(metrics.body, /session_console_logins_total\{outcome="disabled"\} 1/)
})

t.test('each login makes a new token and session; bad login bodies are 400 with nothing made', async (t) => {
  const { app } = await consoleSetup(t)
  await seedAgent(app, 'alice')
  const a = await loginAgent(app, 'alice', AGENT_PASSWORD)
  const b = await loginAgent(app, 'alice', AGENT_PASSWORD)
  t.not(a.token, b.token)
  t.not(a.identity.sessionId, b.identity.sessionId)
  t.not(a.csrfToken, b.csrfToken)
  t.equal((await resolveToken(app, a.token)).statusCode, 200, 'the earlier session stays valid')
  const sessions = app.agentSessionsRepository as MemoryAgentSessionsRepository
  t.equal(sessions.size, 2)
  for (const payload of [{}, { login: 'alice' }, { password: AGENT_PASSWORD }, { login: '', password: AGENT_PASSWORD }, { login: 'alice', password: '' },
    { login: 'alice', password: 'x'.repeat(257) }, { login: 'a'.repeat(65), password: AGENT_PASSWORD }, { login: 'alice', password: AGENT_PASSWORD, extra: 1 },
    { login: 1, password: AGENT_PASSWORD }]) {
    const res = await callInternal(app, { method: 'POST', url: '/api/console/login', payload })
    t.equal(res.statusCode, 400, JSON.stringify(payload).slice(0, 60))
    t.equal(res.json().code, 'VALIDATION_FAILED')
  }
  t.equal(sessions.size, 2, 'nothing made')
  const metrics = await callInternal(app, { url: '/metrics' })
  t.match(metrics.body, /session_console_logins_total\{outcome="ok"\} 2/)
})

t.test('resolve touches: the idle expiry slides, written at most once a minute; idle expiry ends the session', async (t) => {
  const { app, clock } = await consoleSetup(t)
  await seedAgent(app, 'alice')
  const login = clock.ms
  const { token, identity } = await loginAgent(app, 'alice', AGENT_PASSWORD)
  const stored = async (): Promise<Date | undefined> => (await app.agentSessionsRepository.findById(identity.sessionId))?.idleExpiresAt

  clock.advance(30_000)
  const early = await resolveToken(app, token)
  t.equal(early.json().expiresAt, new Date(login + HOUR).toISOString(), 'within a minute: not slid')
  t.same(await stored(), new Date(login + HOUR), 'nor written')
  clock.advance(30_000)
  const slid = await resolveToken(app, token)
  t.equal(slid.json().expiresAt, new Date(clock.ms + HOUR).toISOString(), 'a minute on: slid')
  t.same(await stored(), new Date(clock.ms + HOUR), 'and written')
  t.equal((await asAgent(app, identity, 'GET', '/api/console/me')).json().expiresAt, new Date(clock.ms + HOUR).toISOString(), 'me shows it')

  clock.advance(HOUR - 1)
  t.equal((await resolveToken(app, token)).statusCode, 200, 'used just in time: slides again')
  clock.advance(HOUR)
  const idle = await resolveToken(app, token)
  t.equal(idle.statusCode, 401)
  t.same(idle.json(), { statusCode: 401, code: 'SESSION_CONSOLE_SESSION_INVALID', error: 'Unauthorized', message: 'Console session invalid: session expired after inactivity' })
  t.equal(await stored(), undefined, 'deleted')
  t.equal((await resolveToken(app, token)).json().message, 'Console session invalid: unknown session')
  t.equal((await asAgent(app, identity, 'GET', '/api/console/me')).json().code, 'SESSION_CONSOLE_SESSION_INVALID', 'me too')
})

t.test('absolute expiry: used every 50 minutes it still ends at login + CONSOLE_SESSION_MAX_SEC', async (t) => {
  const { app, clock } = await consoleSetup(t, { CONSOLE_SESSION_MAX_SEC: String(3 * 3600) })
  await seedAgent(app, 'alice')
  const login = clock.ms
  const { token } = await loginAgent(app, 'alice', AGENT_PASSWORD)
  for (let i = 0; i < 3; i++) {
    clock.advance(50 * MINUTE)
    const res = await resolveToken(app, token)
    t.equal(res.statusCode, 200)
    t.ok(new Date(res.json().expiresAt).getTime() <= login + 3 * HOUR, 'never past the cap')
  }
  clock.ms = login + 3 * HOUR - 1
  t.equal((await resolveToken(app, token)).json().expiresAt, new Date(login + 3 * HOUR).toISOString(), 'capped')
  clock.advance(1)
  const capped = await resolveToken(app, token)
  t.equal(capped.statusCode, 401)
  t.equal(capped.json().message, 'Console session invalid: session reached its maximum lifetime')
})

t.test('logout ends the session everywhere: deleted, published on weapp:sessions with the cookie hash', async (t) => {
  const { app } = await consoleSetup(t)
  const agentId = await seedAgent(app, 'alice')
  const events: BusEvent[] = []
  const unsubscribe = await app.bus.subscribe(BusChannels.sessions, (e) => { events.push(e) })
  t.teardown(unsubscribe)
  const kept = await loginAgent(app, 'alice', AGENT_PASSWORD)
  const { token, identity } = await loginAgent(app, 'alice', AGENT_PASSWORD)
  const res = await asAgent(app, identity, 'POST', '/api/console/logout')
  t.equal(res.statusCode, 204)
  await waitFor(() => events.length === 1)
  t.same(events, [{ type: 'agent.sessions.ended', agentId, sessionIds: [identity.sessionId], credentialHashes: [sha256('console:' + token)] }])
  t.equal((await resolveToken(app, token)).statusCode, 401)
  t.equal((await resolveToken(app, kept.token)).statusCode, 200, 'the other session stays')
  t.equal((await asAgent(app, identity, 'POST', '/api/console/logout')).statusCode, 204, 'twice is not an error')
  await new Promise((resolve) => setTimeout(resolve, 20))
  t.equal(events.length, 1, 'nothing more published')
})

t.test('the console routes want an agent identity; resolve bodies are bounded', async (t) => {
  const { app } = await consoleSetup(t)
  const user = { kind: 'user' as const, openid: 'o1', sessionId: 's1', via: 'bearer' as const }
  for (const [method, url] of [['POST', '/api/console/logout'], ['GET', '/api/console/me']] as const) {
    t.equal((await asAgent(app, undefined, method, url)).json().code, 'COMMON_AUTH_REQUIRED', `${url} without identity: 401`)
    const asUser = await asAgent(app, user, method, url)
    t.equal(asUser.statusCode, 403, `${url} as a user`)
    t.equal(asUser.json().code, 'COMMON_FORBIDDEN')
  }
  for (const payload of [{}, { token: '' }, { token: 'x'.repeat(129) }, { token: 'abc', other: 1 }, { token: 5 }]) {
    const res = await callInternal(app, { method: 'POST', url: '/internal/agent-sessions/resolve', payload })
    t.equal(res.statusCode, 400, JSON.stringify(payload).slice(0, 40))
  }
  const unknown = await resolveToken(app, 'A'.repeat(43))
  t.equal(unknown.statusCode, 401)
  t.equal(unknown.json().code, 'SESSION_CONSOLE_SESSION_INVALID')
  const direct = await app.inject({ method: 'POST', url: '/internal/agent-sessions/resolve', payload: { token: 'A'.repeat(43) } })
  t.equal(direct.json().code, 'COMMON_INTERNAL_AUTH_MISSING', 'never without the internal token')
})

t.test('a session of an agent disabled behind its back (no event) still stops resolving', async (t) => {
  const { app } = await consoleSetup(t)
  const id = await seedAgent(app, 'alice')
  const { token } = await loginAgent(app, 'alice', AGENT_PASSWORD)
  await app.agentsRepository.update(id, { disabled: true })
  const res = await resolveToken(app, token)
  t.equal(res.statusCode, 401)
  t.equal(res.json().message, 'Console session invalid: the agent is disabled or gone')
})

t.test('at most 20 live sessions per agent: a login beyond ends the oldest, published', async (t) => {
  const { app, clock } = await consoleSetup(t)
  await seedAgent(app, 'alice')
  const events: BusEvent[] = []
  t.teardown(await app.bus.subscribe(BusChannels.sessions, (e) => { events.push(e) }))
  const first = await loginAgent(app, 'alice', AGENT_PASSWORD)
  for (let i = 0; i < 20; i++) {
    clock.advance(1000)
    await postLogin(app, 'alice', AGENT_PASSWORD)
  }
  t.equal((app.agentSessionsRepository as MemoryAgentSessionsRepository).size, 20)
  t.equal((await resolveToken(app, first.token)).statusCode, 401, 'the oldest ended')
  await waitFor(() => events.length === 1)
  t.match(events[0], { type: 'agent.sessions.ended', sessionIds: [first.identity.sessionId], credentialHashes: [sha256('console:' + first.token)] })
})
