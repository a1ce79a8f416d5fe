import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { fileURLToPath } from 'node:url'
import t from 'tap'
import { MongoClient } from 'mongodb'
import type { LightMyRequestResponse } from 'fastify'
import { BusChannels, INTERNAL_TOKEN_HEADER, type BusEvent } from '@weapp/common'
import { callPublic, listenLocal, waitFor } from '@weapp/test-kit'
import { loadSessionConfig } from '../src/config.js'
import { AGENT_PASSWORD, consoleSetup, loginAgent, postLogin, resolveToken, seedAgent } from './fixtures/console.js'
import { INTERNAL_TOKEN, buildSession, testConfig } from './fixtures/harness.js'

const base = { INTERNAL_TOKEN: 'internal-token-for-session-config-tests-0123456789', APP_ID: 'wx0123456789abcdef', APP_SECRET: '0123456789abcdef0123456789abcdef' }
const BOSS_PASSWORD = 'Boss-password-7f3a9c21'
const OTHER_PASSWORD = 'another-password-5521e9'

t.test('config: console defaults, the cookie flag, and the first admin checked like a secret (never echoed)', async (t) => {
  const config = loadSessionConfig(base)
  t.equal(config.CONSOLE_SESSION_IDLE_SEC, 3600)
  t.equal(config.CONSOLE_SESSION_MAX_SEC, 43200)
  t.equal(config.CONSOLE_COOKIE_SECURE, false)
  t.equal(config.CONSOLE_ADMIN_LOGIN, undefined)
  t.equal(loadSessionConfig({ ...base, CONSOLE_COOKIE_SECURE: 'true' }).CONSOLE_COOKIE_SECURE, true)
  t.match(loadSessionConfig({ ...base, CONSOLE_ADMIN_LOGIN: 'boss', CONSOLE_ADMIN_PASSWORD: BOSS_PASSWORD }), { CONSOLE_ADMIN_LOGIN: 'boss', CONSOLE_ADMIN_PASSWORD: BOSS_PASSWORD })
  const refused: Array<[Record<string, string>, RegExp]> = [
    [{ CONSOLE_ADMIN_LOGIN: 'boss' }, /CONSOLE_ADMIN_LOGIN and CONSOLE_ADMIN_PASSWORD go together/],
    [{ CONSOLE_ADMIN_PASSWORD: BOSS_PASSWORD }, /go together/],
    [{ CONSOLE_ADMIN_LOGIN: 'boss', CONSOLE_ADMIN_PASSWORD: 'Short-pw-1' }, /CONSOLE_ADMIN_PASSWORD must NOT have fewer than 12 characters/],
    [{ CONSOLE_ADMIN_LOGIN: 'boss', CONSOLE_ADMIN_PASSWORD: 'x'.repeat(257) }, /CONSOLE_ADMIN_PASSWORD must NOT have more than 256/],
    [{ CONSOLE_ADMIN_LOGIN: 'boss', CONSOLE_ADMIN_PASSWORD: 'change-me-please-now' }, /CONSOLE_ADMIN_PASSWORD is a placeholder/],
    [{ CONSOLE_ADMIN_LOGIN: 'boss', CONSOLE_ADMIN_PASSWORD: 'abababababababab' }, /CONSOLE_ADMIN_PASSWORD has too little entropy/],
    [{ CONSOLE_ADMIN_LOGIN: 'the boss', CONSOLE_ADMIN_PASSWORD: BOSS_PASSWORD }, /CONSOLE_ADMIN_LOGIN must match pattern/],
    [{ CONSOLE_SESSION_IDLE_SEC: '7200', CONSOLE_SESSION_MAX_SEC: '3600' }, /CONSOLE_SESSION_MAX_SEC must not be smaller/],
    [{ CONSOLE_COOKIE_SECURE: 'maybe' }, /CONSOLE_COOKIE_SECURE/]
  ]
  for (const [env, message] of refused) {
    try {
      loadSessionConfig({ ...base, ...env })
      t.fail(`accepted ${JSON.stringify(env)}`)
    } catch (err) {
      t.match(err, { code: 'COMMON_CONFIG_INVALID', message }, JSON.stringify(env))
      if (env.CONSOLE_ADMIN_PASSWORD !== undefined) t.notMatch((err as Error).message, env.CONSOLE_ADMIN_PASSWORD, 'the value is not echoed')
    }
  }
})

t.test('CONSOLE_ADMIN_LOGIN + CONSOLE_ADMIN_PASSWORD: the admin is made at start, once, never overwritten; the password never logged', async (t) => {
  const logLines: string[] = []
  const { app } = await consoleSetup(t, { CONSOLE_ADMIN_LOGIN: 'Boss', CONSOLE_ADMIN_PASSWORD: BOSS_PASSWORD }, { logLines })
  // Made in the background (start-up does not wait for scrypt); a login at once waits for it.
  t.equal((await postLogin(app, 'boss', BOSS_PASSWORD)).statusCode, 200, 'a login right after start waits for the admin')
  await app.consoleAdminReady
  const boss = await app.agentsRepository.findByLogin('boss')
  t.match(boss, { login: 'boss', displayName: 'boss', role: 'admin', disabled: false })
  const login = await postLogin(app, 'boss', BOSS_PASSWORD)
  t.equal(login.statusCode, 200, 'the admin logs in with that password')
  t.ok(logLines.some((l) => l.includes('console admin created from CONSOLE_ADMIN_LOGIN')), 'its creation is logged')

  // What the next start does: the login exists, so nothing is changed (a password changed since stays).
  await app.agentService.setPassword(boss!.id, OTHER_PASSWORD)
  t.equal(await app.agentService.ensureAdmin('BOSS', BOSS_PASSWORD), 'exists')
  t.equal((await postLogin(app, 'boss', OTHER_PASSWORD)).statusCode, 200, 'the changed password stays')
  t.equal((await postLogin(app, 'boss', BOSS_PASSWORD)).statusCode, 401)
  t.equal(await app.agentsRepository.count(), 1)
  t.ok(logLines.some((l) => l.includes('console admin exists')))
  t.ok(logLines.length > 5, `logs were captured (${logLines.length} lines)`)
  for (const secret of [BOSS_PASSWORD, OTHER_PASSWORD]) t.notOk(logLines.some((l) => l.includes(secret)), 'no log line carries the password')
})

const mongoUrl = process.env.MONGO_URL
t.test('with MongoDB: a restart with another CONSOLE_ADMIN_PASSWORD keeps the admin as it is', { skip: mongoUrl === undefined ? 'MONGO_URL is not set' : false }, async (t) => {
  const db = `weapp_test_${randomBytes(6).toString('hex')}`
  t.teardown(async () => {
    const client = new MongoClient(mongoUrl!)
    await client.db(db).dropDatabase()
    await client.close()
  })
  const env = { WECHAT_API_BASE: 'http://127.0.0.1:9', MONGO_URL: mongoUrl!, MONGO_DB: db, CONSOLE_ADMIN_LOGIN: 'boss' }
  const first = await buildSession(t, { config: testConfig(null, { ...env, CONSOLE_ADMIN_PASSWORD: BOSS_PASSWORD }) })
  t.equal((await postLogin(first, 'boss', BOSS_PASSWORD)).statusCode, 200)
  await first.close()
  const second = await buildSession(t, { config: testConfig(null, { ...env, CONSOLE_ADMIN_PASSWORD: OTHER_PASSWORD }) })
  t.equal((await postLogin(second, 'boss', BOSS_PASSWORD)).statusCode, 200, 'the first password still works')
  t.equal((await postLogin(second, 'boss', OTHER_PASSWORD)).statusCode, 401)
})

t.test('POST /internal/agents/bootstrap: creates the admin, or resets, promotes, enables it and ends its sessions', async (t) => {
  const { app } = await consoleSetup(t)
  const bootstrap = async (payload: object, token = INTERNAL_TOKEN): Promise<LightMyRequestResponse> =>
    await callPublic(app, { method: 'POST', url: '/internal/agents/bootstrap', headers: { [INTERNAL_TOKEN_HEADER]: token }, payload })
  const created = await bootstrap({ login: 'Root', displayName: 'The Root', password: BOSS_PASSWORD })
  t.equal(created.statusCode, 200)
  t.match(created.json(), { created: true, agent: { login: 'root', displayName: 'The Root', role: 'admin', disabled: false } })
  t.notOk(created.body.includes('scrypt'))
  t.equal((await postLogin(app, 'root', BOSS_PASSWORD)).statusCode, 200)

  const bobId = await seedAgent(app, 'bob')
  const session = await loginAgent(app, 'bob', AGENT_PASSWORD)
  await app.agentsRepository.update(bobId, { disabled: true })
  const events: BusEvent[] = []
  t.teardown(await app.bus.subscribe(BusChannels.sessions, (e) => { events.push(e) }))
  const reset = await bootstrap({ login: 'bob', password: OTHER_PASSWORD })
  t.equal(reset.statusCode, 200)
  t.match(reset.json(), { created: false, agent: { id: bobId, login: 'bob', displayName: 'bob name', role: 'admin', disabled: false } })
  t.equal((await postLogin(app, 'bob', OTHER_PASSWORD)).statusCode, 200, 'the new password works, the account is enabled')
  t.equal((await postLogin(app, 'bob', AGENT_PASSWORD)).statusCode, 401, 'the old one does not')
  await waitFor(() => events.length === 1)
  t.match(events[0], { type: 'agent.sessions.ended', agentId: bobId, sessionIds: [session.identity.sessionId] })
  t.equal((await resolveToken(app, session.token)).statusCode, 401)

  const before = await app.agentsRepository.list(10)
  for (const payload of [{}, { login: 'root' }, { password: BOSS_PASSWORD }, { login: 'no spaces', password: BOSS_PASSWORD }, { login: 'root', password: BOSS_PASSWORD, role: 'agent' },
    { login: 'root', password: BOSS_PASSWORD, displayName: '' }]) {
    const res = await bootstrap(payload)
    t.equal(res.statusCode, 400, JSON.stringify(payload))
    t.equal(res.json().code, 'VALIDATION_FAILED')
  }
  const weak = await bootstrap({ login: 'root', password: 'too-short' })
  t.equal(weak.json().code, 'SESSION_PASSWORD_WEAK')
  t.equal((await bootstrap({ login: 'eve', password: BOSS_PASSWORD }, 'wrong-token-wrong-token-wrong-token')).json().code, 'COMMON_INTERNAL_AUTH_INVALID')
  t.same(await app.agentsRepository.list(10), before, 'nothing changed')
})

const CLI = fileURLToPath(new URL('../../../scripts/console-admin.ts', import.meta.url))

interface CliResult { code: number | null, stdout: string, stderr: string }

async function runCli (args: string[], stdin: string, env: Record<string, string>): Promise<CliResult> {
  const child = spawn(process.execPath, ['--import', 'tsx', CLI, ...args], { env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['pipe', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (c: Buffer) => { stdout += c.toString() })
  child.stderr.on('data', (c: Buffer) => { stderr += c.toString() })
  child.stdin.end(stdin)
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve))
  return { code, stdout, stderr }
}

t.test('pnpm console:admin against a running session service: password from stdin, create then reset', async (t) => {
  const { app } = await consoleSetup(t)
  const url = await listenLocal(app)
  const env = { INTERNAL_TOKEN, SESSION_URL: url }

  const created = await runCli(['Chief', '--name', 'Chief Admin'], `${BOSS_PASSWORD}\n`, env)
  t.equal(created.code, 0, created.stderr)
  t.equal(created.stdout, 'created console admin chief\n')
  t.notOk(created.stdout.includes(BOSS_PASSWORD) || created.stderr.includes(BOSS_PASSWORD), 'the password is not printed')
  t.match(await app.agentsRepository.findByLogin('chief'), { displayName: 'Chief Admin', role: 'admin' })
  t.equal((await postLogin(app, 'chief', BOSS_PASSWORD)).statusCode, 200)

  const reset = await runCli(['chief'], OTHER_PASSWORD, env)
  t.equal(reset.code, 0, reset.stderr)
  t.equal(reset.stdout, 'console admin chief: new password set, enabled, its sessions ended\n')
  t.equal((await postLogin(app, 'chief', OTHER_PASSWORD)).statusCode, 200)

  const weak = await runCli(['chief'], 'short\n', env)
  t.equal(weak.code, 1)
  t.match(weak.stderr, /400 SESSION_PASSWORD_WEAK Password refused: it must have at least 12 characters; nothing changed/)
  const badToken = await runCli(['chief'], `${BOSS_PASSWORD}\n`, { ...env, INTERNAL_TOKEN: 'not-the-internal-token-0123456789abcdef' })
  t.equal(badToken.code, 1)
  t.match(badToken.stderr, /401 COMMON_INTERNAL_AUTH_INVALID/)
  t.equal((await postLogin(app, 'chief', OTHER_PASSWORD)).statusCode, 200, 'unchanged by the refused calls')
  const noToken = await runCli(['chief'], `${BOSS_PASSWORD}\n`, { SESSION_URL: url })
  t.equal(noToken.code, 1)
  t.match(noToken.stderr, /INTERNAL_TOKEN is required/)
  const usage = await runCli([], '', env)
  t.equal(usage.code, 2)
  t.match(usage.stderr, /usage: pnpm console:admin <login>/)
  const empty = await runCli(['chief'], '', env)
  t.equal(empty.code, 1)
  t.match(empty.stderr, /no password on stdin/)
})
