import t from 'tap'
import { BusChannels, RedisBus, type BusEvent } from '@weapp/common'
import { waitFor } from '@weapp/test-kit'
import { consoleTokenHash } from '../src/agents/agent-session-service.js'
import { ADMIN_PASSWORD, AGENT_PASSWORD, asAgent, consoleSetup, loginAgent, seedAgent } from './fixtures/console.js'

const redisUrl = process.env.REDIS_URL

t.test('with REDIS_URL: logout and disabling reach another process on Redis pub/sub (agent.sessions.ended)', { skip: redisUrl === undefined ? 'REDIS_URL is not set' : false }, async (t) => {
  const { app } = await consoleSetup(t, { REDIS_URL: redisUrl! })
  // A subscriber of its own, as a gateway or realtime-ws would be.
  const bus = new RedisBus(redisUrl!)
  t.teardown(() => bus.close())
  const events: BusEvent[] = []
  await bus.subscribe(BusChannels.sessions, (e) => { if (e.type === 'agent.sessions.ended') events.push(e) })

  await seedAgent(app, 'root', 'admin')
  const bobId = await seedAgent(app, 'bob')
  const root = await loginAgent(app, 'root', ADMIN_PASSWORD)
  const out = await loginAgent(app, 'root', ADMIN_PASSWORD)
  t.equal((await asAgent(app, out.identity, 'POST', '/api/console/logout')).statusCode, 204)
  await waitFor(() => events.length === 1)
  t.same(events[0], { type: 'agent.sessions.ended', agentId: root.identity.agentId, sessionIds: [out.identity.sessionId], credentialHashes: [consoleTokenHash(out.token)] })

  const bob = await loginAgent(app, 'bob', AGENT_PASSWORD)
  t.equal((await asAgent(app, root.identity, 'PATCH', `/api/console/agents/${bobId}`, { disabled: true })).statusCode, 200)
  await waitFor(() => events.length === 2)
  t.same(events[1], { type: 'agent.sessions.ended', agentId: bobId, sessionIds: [bob.identity.sessionId], credentialHashes: [consoleTokenHash(bob.token)] })
})
