// The default stack without Redis (`npm run up`): every process its own, realtime-ws serving the bus hub
// and the session service, cs-messaging and the gateway joined to it (scripts/system.ts sets BUS_HUB_URL).
// A logout closes the user's sockets (session.revoked crossing from the session service), and a message the
// user writes to customer service reaches the user's /ws as cs.inbound (from cs-messaging), as
// examples/miniprogram/README.md describes; the hub itself is never reachable through the gateway.
import { randomBytes, randomUUID } from 'node:crypto'
import { SimControl } from '@weapp/wechat-sim'
import { waitFor } from '@weapp/test-kit'
import t from 'tap'
import { startSystem } from '../scripts/system.js'
import { Client, refusal } from '../services/realtime-ws/test/fixtures/ws-client.js'

const system = await startSystem({
  output: 'stderr',
  onUnexpectedExit: (name, code, signal) => { console.error(`# ${name} exited unexpectedly (${signal ?? code ?? '?'})`) },
  // No REDIS_URL, whatever the test run has: this file is about the stack without it.
  env: { LOG_LEVEL: 'warn', APP_ID: `wx${randomBytes(8).toString('hex')}`, APP_SECRET: randomBytes(16).toString('hex') }
})
t.teardown(system.stop)
const sim = new SimControl(system.urls.sim)
const gateway = system.urls.gateway
/** Frames through the gateway's relay on a 2-core machine running other test files. */
const FRAME_MS = 10_000

async function login (user: string): Promise<{ token: string, openid: string }> {
  const { code, openid } = await sim.loginCode({ user })
  const res = await fetch(`${gateway}/api/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ code }) })
  if (res.status !== 200) throw new Error(`login: ${res.status} ${await res.text()}`)
  return { token: ((await res.json()) as { token: string }).token, openid }
}

/** /ws through the gateway (the user's bearer token), past the greeting. */
async function openSocket (token: string): Promise<Client> {
  const c = await Client.open(t, `${system.wsUrl}/ws`, { authorization: `Bearer ${token}` }, { timeoutMs: FRAME_MS })
  const greeting = await c.next()
  if (!greeting.startsWith('Server: ')) throw new Error(`expected the greeting, got ${greeting}`)
  return c
}

/** Every process but realtime-ws is connected to the hub: the stack has one bus. */
async function hubJoined (): Promise<void> {
  await waitFor(async () => {
    const probe = await login(`probe-${randomUUID()}`)
    const c = await openSocket(probe.token)
    const closed = c.closed.then(() => true)
    await fetch(`${gateway}/api/logout`, { method: 'POST', headers: { authorization: `Bearer ${probe.token}` } })
    const ended = await Promise.race([closed, new Promise<false>((resolve) => setTimeout(() => { resolve(false) }, 1000))])
    c.ws.terminate()
    return ended
  }, { timeoutMs: 20_000, intervalMs: 200, what: 'the session service joined to the bus hub' })
}

t.test('a logout closes the user\'s socket: session.revoked through the hub', async (t) => {
  await hubJoined()
  const user = await login(`logout-${randomUUID()}`)
  const c = await openSocket(user.token)
  const res = await fetch(`${gateway}/api/logout`, { method: 'POST', headers: { authorization: `Bearer ${user.token}` } })
  t.equal(res.status, 204)
  const closed = await Promise.race([c.closed, new Promise<null>((resolve) => setTimeout(() => { resolve(null) }, FRAME_MS))])
  t.equal(closed?.code, 4001, 'closed with 4001 (session ended)')
  const again = await fetch(`${gateway}/api/me`, { headers: { authorization: `Bearer ${user.token}` } })
  t.equal(again.status, 401, 'the token is dead at the gateway too')
})

t.test('a message the user writes to customer service reaches the user\'s /ws as cs.inbound', async (t) => {
  const label = `cs-${randomUUID()}`
  const user = await login(label)
  const c = await openSocket(user.token)
  // The simulator pushes it to the gateway's /wechat/callback (safe mode, XML), as WeChat does.
  const pushed = await sim.push({ user: label, message: { MsgType: 'text', Content: '你好，客服' } })
  t.equal(pushed.acceptable, true, 'cs-messaging acknowledged the push')
  let frame: Record<string, any> = {}
  while (frame.event !== 'cs.inbound') frame = await c.nextJson(FRAME_MS)
  t.match(frame, { type: 'event', event: 'cs.inbound', data: { openid: user.openid, message: { MsgType: 'text', Content: '你好，客服' } } })
})

t.test('the gateway answers 404 for /internal/bus, upgrade or not, token or not', async (t) => {
  const token = { 'x-internal-token': system.secrets.internalToken }
  const plain = await fetch(`${gateway}/internal/bus`, { headers: token })
  t.equal(plain.status, 404)
  const upgrade = await refusal(`${system.wsUrl}/internal/bus`, token)
  t.equal(upgrade.status, 404, 'an upgrade is not relayed either')
  const direct = await refusal(`${system.urls.realtime.replace(/^http/, 'ws')}/internal/bus`)
  t.equal(direct.status, 401, 'realtime-ws itself wants the internal credential')
})
