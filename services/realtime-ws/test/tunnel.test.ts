import t, { type Test } from 'tap'
import { BusChannels, type BusEvent } from '@weapp/common'
import { ALICE, Client, INTERNAL_TOKEN, gatewayHeaders, refusal, start, testConfig } from './fixtures/harness.js'

async function openTunnel (t: Test, r: Awaited<ReturnType<typeof start>>): Promise<{ client: Client, tunnelId: string }> {
  const res = await r.app.inject({ url: '/weapp/tunnel', headers: { ...gatewayHeaders({ ...ALICE, via: 'wafer2' }), host: '127.0.0.1:8080' } })
  t.equal(res.statusCode, 200)
  const body = res.json<{ code: number, data: { tunnelId: string, connectUrl: string } }>()
  t.equal(body.code, 0)
  t.match(body.data.connectUrl, /^wss:\/\/127\.0\.0\.1:8080\/weapp\/tunnel\/socket\?ticket=[\w-]{43}$/)
  const url = new URL(body.data.connectUrl)
  return { client: await Client.open(t, `${r.ws}${url.pathname}${url.search}`), tunnelId: body.data.tunnelId }
}

t.test('gen 1 shape for wafer1 sessions, PUBLIC_WS_ORIGIN when set; a user is required', async (t) => {
  const r = await start(t, { config: testConfig({ PUBLIC_WS_ORIGIN: 'wss://ws.example.com' }) })
  const res = await r.app.inject({ url: '/weapp/tunnel', headers: gatewayHeaders({ ...ALICE, via: 'wafer1' }) })
  t.match(res.json(), { url: /^wss:\/\/ws\.example\.com\/weapp\/tunnel\/socket\?ticket=/ })
  t.notOk('code' in res.json())
  const anon = await r.app.inject({ url: '/weapp/tunnel', headers: { 'x-internal-token': gatewayHeaders(ALICE)['x-internal-token']! } })
  t.equal(anon.statusCode, 401)
  const noTicket = await refusal(`${r.ws}/weapp/tunnel/socket`, gatewayHeaders(ALICE))
  t.equal(noTicket.status, 401, 'the tunnel socket needs a tunnel ticket')
})

t.test('tunnel frames round-trip: timeout on connect, ping/pong, message echo (and on the bus), close', async (t) => {
  const r = await start(t)
  const published: BusEvent[] = []
  await r.app.bus.subscribe(BusChannels.channels, (e) => { published.push(e) })
  const { client, tunnelId } = await openTunnel(t, r)
  t.equal(await client.next(), 'timeout:15')
  client.send('ping')
  t.equal(await client.next(), 'pong')
  client.send('message:{"type":"speak","content":{"word":"你好"}}')
  t.equal(await client.next(), 'message:{"type":"speak","content":{"word":"你好"}}')
  client.send('message:not json')
  client.send('ping')
  t.equal(await client.next(), 'pong', 'a malformed message is ignored')
  t.same(published, [{ type: 'channel.push', channel: 'tunnel:o_alice', event: 'speak', data: { tunnelId, content: { word: '你好' } } }])
  await r.app.bus.publish(BusChannels.users, { type: 'user.push', openid: ALICE.openid, event: 'notice', data: { n: 1 } })
  t.equal(await client.next(), 'message:{"type":"notice","content":{"n":1}}', 'user pushes reach the tunnel')
  client.send('close')
  t.equal(await client.next(), 'close')
  t.equal((await client.closed).code, 1000)
})

t.test('a tunnel ticket is single-use; no ping within the timeout closes the tunnel', async (t) => {
  const r = await start(t, { config: testConfig({ TUNNEL_TIMEOUT_SEC: '1' }) })
  const res = await r.app.inject({ url: '/weapp/tunnel', headers: gatewayHeaders(ALICE) })
  const url = new URL(res.json<{ data: { connectUrl: string } }>().data.connectUrl)
  const client = await Client.open(t, `${r.ws}${url.pathname}${url.search}`)
  t.equal(await client.next(), 'timeout:1')
  const reuse = await refusal(`${r.ws}${url.pathname}${url.search}`)
  t.equal(reuse.status, 401)
  const started = Date.now()
  t.equal(await client.next(3000), 'close')
  t.equal((await client.closed).code, 1000)
  t.ok(Date.now() - started >= 1000, 'not before the timeout')
})

t.test('the tunnel URL never comes from a forged Host: PUBLIC_WS_ORIGIN, else loopback hosts only', async (t) => {
  const issued = async (r: Awaited<ReturnType<typeof start>>): Promise<string> => {
    const metrics = await r.app.inject({ url: '/metrics', headers: { 'x-internal-token': INTERNAL_TOKEN } })
    return /ws_tickets_issued_total\{purpose="tunnel"\} (\d+)/.exec(metrics.body)?.[1] ?? '0'
  }
  const dev = await start(t)
  for (const headers of [{ host: 'evil.example' }, { host: '127.0.0.1:8080', 'x-forwarded-host': 'evil.example' }, { host: 'localhost.evil.example' }, { host: '127.0.0.1.evil.example' }, { host: '127.0.0.1@evil.example' }]) {
    const res = await dev.app.inject({ url: '/weapp/tunnel', headers: { ...gatewayHeaders(ALICE), ...headers } })
    t.equal(res.statusCode, 503, `refused: ${JSON.stringify(headers)}`)
    t.same(res.json(), { statusCode: 503, code: 'WS_PUBLIC_ORIGIN_UNSET', error: 'Service Unavailable', message: 'PUBLIC_WS_ORIGIN is not configured: tunnel URLs are only built for loopback hosts without it' })
    t.notMatch(res.body, /evil/, 'the forged host is not echoed')
  }
  t.equal(await issued(dev), '0', 'no ticket was issued for a refused request')
  for (const host of ['localhost:8080', '127.0.0.1', '[::1]:8443']) {
    const res = await dev.app.inject({ url: '/weapp/tunnel', headers: { ...gatewayHeaders(ALICE), 'x-forwarded-host': host } })
    t.match(res.json(), { data: { connectUrl: `wss://${host}/weapp/tunnel/socket?ticket=` } }, `development: ${host} is used`)
  }

  const prod = await start(t, { config: testConfig({ PUBLIC_WS_ORIGIN: 'wss://ws.example.com' }) })
  const forged = await prod.app.inject({ url: '/weapp/tunnel', headers: { ...gatewayHeaders(ALICE), host: 'evil.example', 'x-forwarded-host': 'evil.example' } })
  t.equal(forged.statusCode, 200)
  t.match(forged.json(), { data: { connectUrl: /^wss:\/\/ws\.example\.com\/weapp\/tunnel\/socket\?ticket=[\w-]{43}$/ } }, 'the configured origin, whatever the Host')
})
