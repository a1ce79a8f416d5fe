import t from 'tap'
import { BusChannels, type AgentIdentity, type BusEvent } from '@weapp/common'
import { waitFor } from '@weapp/test-kit'
import { consoleTokenHash } from '../src/agents/agent-session-service.js'
import { ADMIN_PASSWORD, AGENT_PASSWORD, asAgent, consoleSetup, loginAgent, postLogin, resolveToken, seedAgent } from './fixtures/console.js'

const NEW_PASSWORD = 'a-brand-new-password-42'

t.test('admin-only routes refuse an agent (403), a user identity (403) and no identity (401)', async (t) => {
  const { app } = await consoleSetup(t)
  await seedAgent(app, 'root', 'admin')
  const bobId = await seedAgent(app, 'bob')
  const bob = await loginAgent(app, 'bob', AGENT_PASSWORD)
  const user = { kind: 'user' as const, openid: 'o1', sessionId: 's1', via: 'bearer' as const }
  const admin = { kind: 'admin' as const, keyId: 'dev' }
  const calls = [
    ['GET', '/api/console/agents', undefined],
    ['POST', '/api/console/agents', { login: 'carol', displayName: 'Carol', role: 'agent', password: NEW_PASSWORD }],
    ['PATCH', `/api/console/agents/${bobId}`, { role: 'admin' }],
    ['PUT', `/api/console/agents/${(await app.agentsRepository.findByLogin('root'))!.id}/password`, { password: NEW_PASSWORD }]
  ] as const
  for (const [method, url, payload] of calls) {
    const asBob = await asAgent(app, bob.identity, method, url, payload)
    t.equal(asBob.statusCode, 403, `${method} ${url} as an agent`)
    t.equal(asBob.json().code, 'COMMON_FORBIDDEN')
    t.equal((await asAgent(app, user, method, url, payload)).statusCode, 403, 'as a mini-program user')
    t.equal((await asAgent(app, admin, method, url, payload)).statusCode, 403, 'as an admin API key: a key is not a console admin')
    t.equal((await asAgent(app, undefined, method, url, payload)).statusCode, 401, 'without identity')
  }
  t.equal((await app.agentsRepository.findById(bobId))?.role, 'agent', 'nothing changed')
  t.equal(await app.agentsRepository.findByLogin('carol'), null)
  t.equal((await postLogin(app, 'root', ADMIN_PASSWORD)).statusCode, 200, "root's password unchanged")
})

t.test('an admin demoted since the gateway cached its identity can no longer manage agents', async (t) => {
  const { app } = await consoleSetup(t)
  const rootId = await seedAgent(app, 'root', 'admin')
  await seedAgent(app, 'other', 'admin')
  const root = await loginAgent(app, 'root', ADMIN_PASSWORD)
  await app.agentsRepository.update(rootId, { role: 'agent' })
  const res = await asAgent(app, root.identity, 'GET', '/api/console/agents')
  t.equal(res.statusCode, 403, 'the identity still says admin; the store does not')
})

t.test('create, list by login, change: an admin manages agents', async (t) => {
  const { app, clock } = await consoleSetup(t)
  await seedAgent(app, 'root', 'admin')
  const root = await loginAgent(app, 'root', ADMIN_PASSWORD)
  const created = await asAgent(app, root.identity, 'POST', '/api/console/agents', { login: 'Carol.W', displayName: '  Carol W  ', role: 'agent', password: NEW_PASSWORD })
  t.equal(created.statusCode, 201)
  t.same(created.json(), { id: created.json().id, login: 'carol.w', displayName: 'Carol W', role: 'agent', disabled: false, createdAt: new Date(clock.ms).toISOString() })
  t.equal((await postLogin(app, 'carol.w', NEW_PASSWORD)).statusCode, 200, 'the new agent can log in')
  await asAgent(app, root.identity, 'POST', '/api/console/agents', { login: 'anna', displayName: 'Anna', role: 'admin', password: NEW_PASSWORD })
  const list = await asAgent(app, root.identity, 'GET', '/api/console/agents')
  t.same(list.json().items.map((a: { login: string }) => a.login), ['anna', 'carol.w', 'root'])
  t.notOk(list.body.includes('scrypt'), 'no password hash in the list')

  const exists = await asAgent(app, root.identity, 'POST', '/api/console/agents', { login: 'CAROL.w', displayName: 'Again', role: 'agent', password: NEW_PASSWORD })
  t.equal(exists.statusCode, 409)
  t.same(exists.json(), { statusCode: 409, code: 'SESSION_AGENT_EXISTS', error: 'Conflict', message: 'An agent with the login carol.w already exists' })
  const weak = await asAgent(app, root.identity, 'POST', '/api/console/agents', { login: 'dan', displayName: 'Dan', role: 'agent', password: 'short-pw' })
  t.equal(weak.statusCode, 400)
  t.same(weak.json(), { statusCode: 400, code: 'SESSION_PASSWORD_WEAK', error: 'Bad Request', message: 'Password refused: it must have at least 12 characters' })
  t.equal(await app.agentsRepository.findByLogin('dan'), null, 'nothing created')

  const id = created.json().id
  const patched = await asAgent(app, root.identity, 'PATCH', `/api/console/agents/${id}`, { displayName: 'Carol West', role: 'admin' })
  t.equal(patched.statusCode, 200)
  t.match(patched.json(), { id, displayName: 'Carol West', role: 'admin', disabled: false })
  const missing = await asAgent(app, root.identity, 'PATCH', '/api/console/agents/00000000-0000-0000-0000-000000000000', { displayName: 'X' })
  t.equal(missing.statusCode, 404)
  t.equal(missing.json().code, 'SESSION_AGENT_NOT_FOUND')
})

t.test('bad bodies and parameters: 400, nothing changed', async (t) => {
  const { app } = await consoleSetup(t)
  await seedAgent(app, 'root', 'admin')
  const bobId = await seedAgent(app, 'bob')
  const root = await loginAgent(app, 'root', ADMIN_PASSWORD)
  const good = { login: 'carol', displayName: 'Carol', role: 'agent', password: NEW_PASSWORD }
  for (const body of [{}, { ...good, login: 'has space' }, { ...good, login: 'é' }, { ...good, login: 'a'.repeat(65) }, { ...good, displayName: '' },
    { ...good, displayName: 'x'.repeat(65) }, { ...good, displayName: 'line\nbreak' }, { ...good, displayName: '   ' }, { ...good, role: 'owner' }, { ...good, password: 'p'.repeat(1025) },
    { ...good, extra: true }, { login: 'carol', displayName: 'Carol', role: 'agent' }]) {
    const res = await asAgent(app, root.identity, 'POST', '/api/console/agents', body)
    t.equal(res.statusCode, 400, JSON.stringify(body).slice(0, 70))
    t.equal(res.json().code, 'VALIDATION_FAILED')
  }
  const tooLong = await asAgent(app, root.identity, 'POST', '/api/console/agents', { ...good, password: 'p'.repeat(257) })
  t.equal(tooLong.json().code, 'SESSION_PASSWORD_WEAK', 'over 256 characters: the policy says so')
  t.equal(await app.agentsRepository.count(), 2, 'nothing created')

  for (const body of [{}, { disabled: 'yes' }, { role: 'owner' }, { displayName: '' }, { login: 'renamed' }, { passwordHash: 'x' }]) {
    const res = await asAgent(app, root.identity, 'PATCH', `/api/console/agents/${bobId}`, body)
    t.equal(res.statusCode, 400, JSON.stringify(body))
  }
  for (const id of ['x'.repeat(65), 'a%20b', 'a.b']) {
    t.equal((await asAgent(app, root.identity, 'PATCH', `/api/console/agents/${id}`, { displayName: 'X' })).statusCode, 400, `id ${id}`)
  }
  for (const body of [{}, { password: 5 }, { password: NEW_PASSWORD, other: 1 }, { password: NEW_PASSWORD, currentPassword: '' }]) {
    t.equal((await asAgent(app, root.identity, 'PUT', `/api/console/agents/${bobId}/password`, body)).statusCode, 400, JSON.stringify(body))
  }
  const weak = await asAgent(app, root.identity, 'PUT', `/api/console/agents/${bobId}/password`, { password: 'tiny' })
  t.equal(weak.json().code, 'SESSION_PASSWORD_WEAK')
  const bob = await app.agentsRepository.findById(bobId)
  t.match(bob, { login: 'bob', displayName: 'bob name', role: 'agent', disabled: false })
  t.equal((await postLogin(app, 'bob', AGENT_PASSWORD)).statusCode, 200, "bob's password unchanged")
})

t.test('disabling an agent ends its sessions at once: deleted and published', async (t) => {
  const { app } = await consoleSetup(t)
  await seedAgent(app, 'root', 'admin')
  const bobId = await seedAgent(app, 'bob')
  const root = await loginAgent(app, 'root', ADMIN_PASSWORD)
  const b1 = await loginAgent(app, 'bob', AGENT_PASSWORD)
  const b2 = await loginAgent(app, 'bob', AGENT_PASSWORD)
  const events: BusEvent[] = []
  t.teardown(await app.bus.subscribe(BusChannels.sessions, (e) => { events.push(e) }))
  const res = await asAgent(app, root.identity, 'PATCH', `/api/console/agents/${bobId}`, { disabled: true })
  t.equal(res.statusCode, 200)
  t.equal(res.json().disabled, true)
  await waitFor(() => events.length === 1)
  const ended = events[0] as Extract<BusEvent, { type: 'agent.sessions.ended' }>
  t.equal(ended.type, 'agent.sessions.ended')
  t.equal(ended.agentId, bobId)
  t.same([...ended.sessionIds].sort(), [b1.identity.sessionId, b2.identity.sessionId].sort())
  t.same([...ended.credentialHashes].sort(), [b1, b2].map((b) => consoleTokenHash(b.token)).sort(), 'the hashes the gateway caches the cookies by')
  for (const b of [b1, b2]) t.equal((await resolveToken(app, b.token)).statusCode, 401)
  t.equal((await postLogin(app, 'bob', AGENT_PASSWORD)).statusCode, 403, 'and it cannot log in')
  const enabled = await asAgent(app, root.identity, 'PATCH', `/api/console/agents/${bobId}`, { disabled: false })
  t.equal(enabled.json().disabled, false)
  t.equal((await postLogin(app, 'bob', AGENT_PASSWORD)).statusCode, 200, 'enabled again')
})

t.test('the last enabled admin can be neither disabled nor demoted (409), nothing changed', async (t) => {
  const { app } = await consoleSetup(t)
  const rootId = await seedAgent(app, 'root', 'admin')
  const otherId = await seedAgent(app, 'other', 'admin')
  const root = await loginAgent(app, 'root', ADMIN_PASSWORD)
  t.equal((await asAgent(app, root.identity, 'PATCH', `/api/console/agents/${otherId}`, { disabled: true })).statusCode, 200, 'one of two: fine')
  for (const body of [{ disabled: true }, { role: 'agent' }, { role: 'agent', displayName: 'Renamed' }]) {
    const res = await asAgent(app, root.identity, 'PATCH', `/api/console/agents/${rootId}`, body)
    t.equal(res.statusCode, 409, JSON.stringify(body))
    t.same(res.json(), { statusCode: 409, code: 'SESSION_LAST_ADMIN', error: 'Conflict', message: 'The last enabled console admin cannot be disabled or demoted' })
  }
  t.match(await app.agentsRepository.findById(rootId), { role: 'admin', disabled: false, displayName: 'root name' })
  t.equal((await resolveToken(app, root.token)).statusCode, 200, 'its session lives on')
  t.equal((await asAgent(app, root.identity, 'PATCH', `/api/console/agents/${rootId}`, { displayName: 'Root' })).statusCode, 200, 'other changes are fine')
  // Two admins demoting each other at once: never zero admins.
  await asAgent(app, root.identity, 'PATCH', `/api/console/agents/${otherId}`, { disabled: false })
  const other = await loginAgent(app, 'other', ADMIN_PASSWORD)
  const [a, b] = await Promise.all([
    asAgent(app, root.identity, 'PATCH', `/api/console/agents/${otherId}`, { role: 'agent' }),
    asAgent(app, other.identity, 'PATCH', `/api/console/agents/${rootId}`, { role: 'agent' })
  ])
  t.notOk(a.statusCode === 200 && b.statusCode === 200, `not both applied (${a.statusCode}, ${b.statusCode})`)
  t.ok(await app.agentsRepository.countEnabledAdmins() >= 1, 'an enabled admin remains')
})

t.test('password reset by an admin ends all the agent\'s sessions; an agent changes its own with the current one', async (t) => {
  const { app } = await consoleSetup(t)
  await seedAgent(app, 'root', 'admin')
  const bobId = await seedAgent(app, 'bob')
  const carolId = await seedAgent(app, 'carol')
  const root = await loginAgent(app, 'root', ADMIN_PASSWORD)
  const bob = await loginAgent(app, 'bob', AGENT_PASSWORD)
  const events: BusEvent[] = []
  t.teardown(await app.bus.subscribe(BusChannels.sessions, (e) => { events.push(e) }))

  const reset = await asAgent(app, root.identity, 'PUT', `/api/console/agents/${bobId}/password`, { password: NEW_PASSWORD })
  t.equal(reset.statusCode, 204)
  await waitFor(() => events.length === 1)
  t.match(events[0], { type: 'agent.sessions.ended', agentId: bobId, sessionIds: [bob.identity.sessionId] })
  t.equal((await resolveToken(app, bob.token)).statusCode, 401)
  t.equal((await postLogin(app, 'bob', AGENT_PASSWORD)).statusCode, 401, 'the old password is gone')

  const b1 = await loginAgent(app, 'bob', NEW_PASSWORD)
  const b2 = await loginAgent(app, 'bob', NEW_PASSWORD)
  const noCurrent = await asAgent(app, b1.identity, 'PUT', `/api/console/agents/${bobId}/password`, { password: 'bobs-own-password-1' })
  t.equal(noCurrent.statusCode, 403)
  t.same(noCurrent.json(), { statusCode: 403, code: 'SESSION_CURRENT_PASSWORD_WRONG', error: 'Forbidden', message: 'The current password is wrong' })
  const wrongCurrent = await asAgent(app, b1.identity, 'PUT', `/api/console/agents/${bobId}/password`, { password: 'bobs-own-password-1', currentPassword: 'not-it-at-all-x' })
  t.equal(wrongCurrent.json().code, 'SESSION_CURRENT_PASSWORD_WRONG')
  const others = await asAgent(app, b1.identity, 'PUT', `/api/console/agents/${carolId}/password`, { password: 'bobs-own-password-1', currentPassword: AGENT_PASSWORD })
  t.equal(others.statusCode, 403, "not another agent's")
  t.equal(others.json().code, 'COMMON_FORBIDDEN')
  t.equal((await postLogin(app, 'bob', NEW_PASSWORD)).statusCode, 200, 'nothing changed so far')

  events.length = 0
  const own = await asAgent(app, b1.identity, 'PUT', `/api/console/agents/${bobId}/password`, { password: 'bobs-own-password-1', currentPassword: NEW_PASSWORD })
  t.equal(own.statusCode, 204)
  t.equal((await resolveToken(app, b1.token)).statusCode, 200, 'the session that changed it stays')
  t.equal((await resolveToken(app, b2.token)).statusCode, 401, 'the other ends')
  await waitFor(() => events.length >= 1)
  t.ok(events.every((e) => e.type === 'agent.sessions.ended' && !e.sessionIds.includes(b1.identity.sessionId)))
  t.equal((await postLogin(app, 'bob', 'bobs-own-password-1')).statusCode, 200)
  const missing = await asAgent(app, root.identity, 'PUT', '/api/console/agents/00000000-0000-0000-0000-000000000000/password', { password: NEW_PASSWORD })
  t.equal(missing.json().code, 'SESSION_AGENT_NOT_FOUND')
})

t.test('GET /api/console/users/:openid: the profile for any agent, never the session_key; 404 for a stranger', async (t) => {
  const { app, clock } = await consoleSetup(t)
  await seedAgent(app, 'bob')
  const bob = await loginAgent(app, 'bob', AGENT_PASSWORD)
  await app.usersRepository.upsertOnLogin({ openid: 'oUser_1-x', unionid: 'u1', sessionKey: 'SECRET-SESSION-KEY==', now: clock.now() })
  await app.usersRepository.updateProfile('oUser_1-x', { nickname: 'Mia' })
  const res = await asAgent(app, bob.identity, 'GET', '/api/console/users/oUser_1-x')
  t.equal(res.statusCode, 200)
  t.same(res.json(), { user: { openid: 'oUser_1-x', unionid: 'u1', nickname: 'Mia', firstSeenAt: clock.now().toISOString(), lastSeenAt: clock.now().toISOString() } })
  t.notOk(res.body.includes('SECRET-SESSION-KEY'))
  const stranger = await asAgent(app, bob.identity, 'GET', '/api/console/users/oNobody')
  t.equal(stranger.statusCode, 404)
  t.equal(stranger.json().code, 'SESSION_USER_NOT_FOUND')
  t.equal((await asAgent(app, bob.identity, 'GET', `/api/console/users/${'o'.repeat(65)}`)).statusCode, 400)
  t.equal((await asAgent(app, bob.identity, 'GET', '/api/console/users/o%20x')).statusCode, 400)
  const user = { kind: 'user' as const, openid: 'oUser_1-x', sessionId: 's', via: 'bearer' as const }
  t.equal((await asAgent(app, user, 'GET', '/api/console/users/oUser_1-x')).statusCode, 403, 'not for mini-program users')
  const identity: AgentIdentity = bob.identity
  t.equal(identity.role, 'agent', 'any agent, not only admins')
})
