// bench:peers' nginx for the seed side (bench/lib/peers-nginx.ts): the tutorial's ssl.conf modernized
// passes a wafer login, /me and a wss upgrade (session in the query) on to the seed's server, and node-
// webot's message URL to webot; our own configuration renders with one worker and the bench's raised
// limits and passes `nginx -t`. Skipped, with the reason, without nginx and openssl.
import { spawnSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { DEFAULT_SIM_APP, buildPush } from '@weapp/wechat-sim'
import { startSimulator } from '@weapp/test-kit'
import t from 'tap'
import WebSocket from 'ws'
import { stopAll, type Running } from '../lib/processes.js'
import { httpRequest, peerLoad } from '../lib/peers-load.js'
import { NginxProcess, makeCert, nginxMissing, renderOurNginx, seedNginxConf } from '../lib/peers-nginx.js'
import { startWebot } from '../lib/peers-webot.js'
import { startSeed } from '../lib/seed-peer.js'
import { freePort } from '../../scripts/redis-server.js'

const missing = nginxMissing()
if (missing !== null) {
  t.plan(0, missing)
} else {
  const dir = mkdtempSync(join(tmpdir(), 'weapp-peers-nginx-test-'))
  const procs: Running[] = []
  let nginx: NginxProcess | undefined // eslint-disable-line prefer-const -- assigned after the teardown that stops it
  t.teardown(async () => {
    await nginx?.stop()
    await stopAll(procs)
    rmSync(dir, { recursive: true, force: true })
  })
  const { url: simUrl, control } = await startSimulator(t)
  const push = { token: randomBytes(16).toString('hex'), encodingAESKey: randomBytes(32).toString('base64').slice(0, 43), appId: DEFAULT_SIM_APP.appId }
  const seed = await startSeed('seed', await freePort(), { wechatApiBase: simUrl, appId: DEFAULT_SIM_APP.appId, appSecret: DEFAULT_SIM_APP.appSecret })
  procs.push(seed)
  const webot = await startWebot('webot', await freePort(), push)
  procs.push(webot)
  const { cert, key } = makeCert(join(dir, 'tls'))
  const ca = readFileSync(cert)
  const httpsPort = await freePort()
  nginx = new NginxProcess('nginx (seed)', seedNginxConf(join(dir, 'seed'), { httpsPort, seedPort: Number(new URL(seed.url).port), webotPort: Number(new URL(webot.url).port), cert, key }), httpsPort)
  await nginx.start()
  const origin = nginx.origin
  const host = `127.0.0.1:${httpsPort}`

  t.test('one worker; a wafer login, /me and a wss greeting + echo reach the seed over TLS', async (t) => {
    t.equal(nginx!.pids().length, 2, 'master and one worker')
    const { code, userInfo } = await control.loginCode({ user: 'dora' })
    const answers: string[] = []
    const once = async (bytes: Buffer): Promise<void> => {
      await peerLoad({ origin, ca, connections: 1, total: 1, next: () => bytes, onResponse: (status, body) => { answers.push(`${status} ${body}`) } })
    }
    await once(httpRequest('GET', '/login', host, { 'X-WX-Code': code, 'X-WX-Encrypted-Data': userInfo.encryptedData, 'X-WX-IV': userInfo.iv }))
    const session = (JSON.parse(answers[0]!.slice(4)) as { session: { id: string, skey: string } }).session
    await once(httpRequest('GET', '/me', host, { 'X-WX-Id': session.id, 'X-WX-Skey': session.skey }))
    t.match(answers[1], /^200 .*"nickName":"dora"/)

    const ws = new WebSocket(`wss://${host}/ws?X-WX-Id=${session.id}&X-WX-Skey=${session.skey}`, { ca })
    const frames: string[] = []
    await new Promise<void>((resolve, reject) => {
      ws.on('error', reject)
      ws.on('message', (data: Buffer) => {
        frames.push(data.toString('utf8'))
        if (frames.length === 1) ws.send('ping')
        else { ws.close(); resolve() }
      })
    })
    t.same(frames, ['Server: 恭喜，dora', 'Server: Received(ping)'])
  })

  t.test('a push to /wechat/callback reaches node-webot through the same nginx', async (t) => {
    const built = buildPush({ ...push, url: `${origin}/wechat/callback`, mode: 'safe', format: 'xml', message: { ToUserName: 'gh_t', FromUserName: 'oU', CreateTime: Math.floor(Date.now() / 1000), MsgType: 'text', Content: 'hi', MsgId: '6000000000000000002' } })
    const u = new URL(built.url)
    const answers: string[] = []
    await peerLoad({ origin, ca, connections: 1, total: 1, next: () => httpRequest('POST', u.pathname + u.search, host, { 'Content-Type': 'text/xml' }, Buffer.from(built.body)), onResponse: (status, body) => { answers.push(`${status} ${body}`) } })
    t.same(answers, ['200 '], "node-webot's empty answer (chunked) read back")
  })

  t.test('our configuration renders with one worker and the raised limits, and nginx -t accepts it', async (t) => {
    const conf = renderOurNginx(join(dir, 'ours'), { httpPort: await freePort(), httpsPort: await freePort(), gatewayPort: await freePort(), realtimePort: await freePort(), cert, key })
    const text = readFileSync(conf, 'utf8')
    t.match(text, /^worker_processes 1;$/m)
    t.match(text, /rate=1000000r\/s/)
    const tested = spawnSync('nginx', ['-t', '-c', conf], { encoding: 'utf8' })
    t.equal(tested.status, 0, tested.stderr)
  })
}
