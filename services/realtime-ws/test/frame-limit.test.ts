// Frames per second per socket and per user: past either limit the socket is closed with 4029 and the frames
// beyond it are neither answered nor published on the bus.
import t from 'tap'
import { BusChannels, type BusEvent } from '@weapp/common'
import { loadRealtimeConfig, DEFAULT_MAX_FRAMES_PER_SEC, DEFAULT_MAX_FRAMES_PER_SEC_PER_USER } from '../src/config.js'
import { waitFor } from '@weapp/test-kit'
import { ALICE, BOB, Client, INTERNAL_TOKEN, gatewayHeaders, start, testConfig } from './fixtures/harness.js'

const limited = testConfig({ MAX_FRAMES_PER_SEC: '20', MAX_FRAMES_PER_SEC_PER_USER: '30' })
const sleep = async (ms: number): Promise<void> => { await new Promise((resolve) => setTimeout(resolve, ms)) }

t.test('/ws: a flood past MAX_FRAMES_PER_SEC closes the socket with 4029; frames beyond the limit get no answer', async (t) => {
  const r = await start(t, { config: limited })
  const c = await Client.open(t, `${r.ws}/ws`, gatewayHeaders(ALICE))
  await c.next()
  const started = performance.now()
  for (let i = 0; i < 200; i++) c.send(`flood ${i}`)
  const closed = await c.closed
  // What the bucket refilled (20/s) until the server closed: nothing can have been admitted later.
  const refill = Math.ceil(20 * (performance.now() - started) / 1000)
  t.equal(closed.code, 4029)
  t.equal(closed.reason, 'rate limit')
  const echoes = c.received.filter((f) => f.startsWith('Server: Received(flood'))
  t.ok(echoes.length >= 20 && echoes.length <= 20 + refill, `${echoes.length} of 200 answered (a second's worth, + ${refill} refilled)`)
  t.same(echoes, echoes.map((_, i) => `Server: Received(flood ${i})`), 'the first ones, in order')
  const metrics = await r.app.inject({ url: '/metrics', headers: { 'x-internal-token': INTERNAL_TOKEN } })
  t.match(metrics.body, /ws_rate_limited_total\{kind="ws"\} 1/)
})

t.test('/ws: a client within its rate is never cut, bursts included', async (t) => {
  const r = await start(t, { config: limited })
  const c = await Client.open(t, `${r.ws}/ws`, gatewayHeaders(ALICE))
  await c.next()
  for (let i = 0; i < 20; i++) c.send(`burst ${i}`)
  for (let i = 0; i < 20; i++) t.equal(await c.next(), `Server: Received(burst ${i})`)
  await sleep(1000)
  // 15 frames/s for 2 s, under the 20/s of the socket.
  for (let i = 0; i < 30; i++) {
    c.send(`steady ${i}`)
    t.equal(await c.next(), `Server: Received(steady ${i})`)
    await sleep(66)
  }
  t.equal(c.ws.readyState, c.ws.OPEN, 'still open')
})

t.test('tunnel: frames beyond the limit are not published on the bus', async (t) => {
  const r = await start(t, { config: limited })
  const published: BusEvent[] = []
  await r.app.bus.subscribe(BusChannels.channels, (e) => { published.push(e) })
  const res = await r.app.inject({ url: '/weapp/tunnel', headers: gatewayHeaders(ALICE) })
  const url = new URL(res.json<{ data: { connectUrl: string } }>().data.connectUrl)
  const c = await Client.open(t, `${r.ws}${url.pathname}${url.search}`)
  t.equal(await c.next(), 'timeout:15')
  const started = performance.now()
  for (let i = 0; i < 500; i++) c.send(`message:{"type":"spam","content":${i}}`)
  t.equal((await c.closed).code, 4029)
  const refill = Math.ceil(20 * (performance.now() - started) / 1000)
  await sleep(100)
  t.ok(published.length >= 20 && published.length <= 20 + refill, `${published.length} of 500 published (+ ${refill} refilled)`)
  t.same(published.map((e) => (e as { data: { content: number } }).data.content), published.map((_, i) => i), 'the first ones')
  const metrics = await r.app.inject({ url: '/metrics', headers: { 'x-internal-token': INTERNAL_TOKEN } })
  t.match(metrics.body, /ws_rate_limited_total\{kind="tunnel"\} 1/)
})

t.test('per user: sockets of one user share MAX_FRAMES_PER_SEC_PER_USER; other users are not affected', async (t) => {
  const r = await start(t, { config: limited })
  const a1 = await Client.open(t, `${r.ws}/ws`, gatewayHeaders(ALICE))
  const a2 = await Client.open(t, `${r.ws}/ws`, gatewayHeaders({ ...ALICE, sessionId: 's1-other-device' }))
  const bob = await Client.open(t, `${r.ws}/ws`, gatewayHeaders(BOB))
  await Promise.all([a1.next(), a2.next(), bob.next()])
  // 18 each: under the socket limit (20), together over the user's (30).
  const started = performance.now()
  for (let i = 0; i < 18; i++) a1.send(`a1 ${i}`)
  for (let i = 0; i < 18; i++) t.equal(await a1.next(), `Server: Received(a1 ${i})`)
  for (let i = 0; i < 18; i++) a2.send(`a2 ${i}`)
  for (let i = 0; i < 18; i++) bob.send(`bob ${i}`)
  t.equal((await a2.closed).code, 4029, 'the socket that went over the user\'s budget is closed')
  // What the user's bucket refilled (30/s) until then.
  const refill = Math.ceil(30 * (performance.now() - started) / 1000)
  for (let i = 0; i < 18; i++) t.equal(await bob.next(), `Server: Received(bob ${i})`)
  t.equal(bob.ws.readyState, bob.ws.OPEN, 'another user keeps going')
  t.equal(a1.ws.readyState, a1.ws.OPEN, 'the first socket stayed within the user\'s budget')
  const answeredA2 = a2.received.filter((f) => f.startsWith('Server: Received(a2')).length
  t.ok(answeredA2 >= 12 && answeredA2 <= 12 + refill, `${answeredA2} answered on the second socket (30 - 18, + ${refill} refilled)`)
  a2.ws.terminate()
  await waitFor(() => r.app.wsHub.frames.users === 2, { what: 'the closed socket\'s user budget released' })
})

t.test('limits are bounded, with defaults well above the echo benchmark', async (t) => {
  t.equal(DEFAULT_MAX_FRAMES_PER_SEC, 2000)
  t.equal(DEFAULT_MAX_FRAMES_PER_SEC_PER_USER, 5000)
  const base = { INTERNAL_TOKEN, LOG_LEVEL: 'silent' }
  t.equal(loadRealtimeConfig(base).MAX_FRAMES_PER_SEC, DEFAULT_MAX_FRAMES_PER_SEC)
  for (const [name, value] of [['MAX_FRAMES_PER_SEC', '0'], ['MAX_FRAMES_PER_SEC', '100001'], ['MAX_FRAMES_PER_SEC_PER_USER', '0'], ['MAX_FRAMES_PER_SEC_PER_USER', 'lots']]) {
    t.throws(() => loadRealtimeConfig({ ...base, [name!]: value! }), { code: 'COMMON_CONFIG_INVALID', message: new RegExp(name!) }, `${name}=${value} refused`)
  }
})
