// End to end through nginx, as deployed: Debian's nginx runs the project's own configuration
// (nginx/weapp.conf.template rendered by nginx/render.sh; only ports, the listen address, the upstreams and
// the certificate paths differ) with a certificate from nginx/make-cert.sh, in front of the whole system
// as real processes (scripts/system.ts: simulator, session, cs-messaging, realtime-ws, gateway with
// TRUST_PROXY=127.0.0.1). Every call below goes over HTTPS, HTTP/2 or wss to nginx.
//
// nginx missing: the file fails when CI is set (.ci/run installs it) and is skipped otherwise.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs'
import { connect as http2Connect } from 'node:http2'
import { tmpdir } from 'node:os'
import { delimiter, join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { connect as tlsConnect, createServer as createTlsServer, type SecureVersion } from 'node:tls'
import { createRedis, encodeIdentity } from '@weapp/common'
import { SimControl } from '@weapp/wechat-sim'
import { rawRequest, waitFor, type RawReply, type RawRequestInit } from '@weapp/test-kit'
import t from 'tap'
import { freePort } from '../scripts/redis-server.js'
import { startSystem, type RunningSystem } from '../scripts/system.js'
import { Client, refusal } from '../services/realtime-ws/test/fixtures/ws-client.js'

const root = new URL('..', import.meta.url).pathname
const LOGIN_RATE_LIMIT_KEY_PREFIX = 'weapp:gateway:login:'
/** The gateway's limit in this run: high, so logins of other test files sharing Redis never make ours fail. */
const LOGIN_MAX = 1000
const BODY_LIMIT = 64 * 1024
const PUSH_BODY_LIMIT = 64 * 1024
/** ADMIN_UPLOAD_LIMIT (2 MiB) plus the gateway's MULTIPART_OVERHEAD (64 KiB). */
const UPLOAD_BODY_LIMIT = 2 * 1024 * 1024 + 64 * 1024

function which (name: string): string | null {
  const dirs = [...(process.env.PATH ?? '').split(delimiter), '/usr/sbin', '/usr/local/sbin', '/sbin']
  for (const dir of dirs) if (dir !== '' && existsSync(join(dir, name))) return join(dir, name)
  return null
}

const nginxBin = process.env.NGINX_BIN ?? which('nginx')
const missing = [nginxBin === null || !existsSync(nginxBin) ? 'nginx' : null, which('openssl') === null ? 'openssl' : null].filter((m) => m !== null)
// In CI (.ci/run installs nginx and exports NGINX_BIN) a missing nginx is a failure, not a skip.
const required = (process.env.CI !== undefined && !['', '0', 'false'].includes(process.env.CI)) || process.env.NGINX_BIN !== undefined

if (missing.length > 0) {
  const why = `${missing.join(' and ')} not installed (apt-get install nginx openssl; .ci/run does it)`
  if (required) t.fail(`CI must run the nginx end-to-end tests: ${why}`)
  else t.plan(0, why)
} else {
  await main(nginxBin!)
}

async function main (nginx: string): Promise<void> {
  const work = mkdtempSync(join(tmpdir(), 'weapp-nginx-e2e-'))
  // One cleanup, registered before anything starts, in the right order: nginx, the system, the files.
  let proc: ChildProcess | undefined
  let started: RunningSystem | undefined
  t.teardown(async () => {
    if (proc !== undefined && proc.exitCode === null && proc.signalCode === null) {
      const exited = new Promise((resolve) => proc!.once('exit', resolve))
      proc.kill('SIGTERM')
      const timer = setTimeout(() => proc!.kill('SIGKILL'), 10_000)
      await exited
      clearTimeout(timer)
    }
    await started?.stop()
    rmSync(work, { recursive: true, force: true })
  })
  const certDir = join(work, 'tls')
  const certFile = join(certDir, 'cert.pem')
  const keyFile = join(certDir, 'key.pem')
  sh(join(root, 'nginx/make-cert.sh'), [certDir, 'localhost'])
  const ca = readFileSync(certFile)
  // wss clients trust the test certificate; frames through TLS and two hops get a longer wait.
  const wss = { ca, timeoutMs: 5000 }

  // An app of its own (random AppID): its cs-messaging keys in a shared Redis (`cs:{appid}:*`) are ours
  // alone. The simulator trusts the self-signed certificate, as WeChat trusts a real one.
  const appSecret = randomBytes(16).toString('hex')
  const system = started = await startSystem({
    output: 'stderr',
    env: { REDIS_URL: process.env.REDIS_URL, APP_ID: `wx${randomBytes(8).toString('hex')}`, APP_SECRET: appSecret },
    processEnv: {
      gateway: { TRUST_PROXY: '127.0.0.1', LOGIN_RATE_LIMIT_MAX: String(LOGIN_MAX) },
      // nginx sends /ws upgrades straight to realtime-ws, which limits failed lookups per client as the gateway does.
      realtime: { TRUST_PROXY: '127.0.0.1' },
      sim: { NODE_EXTRA_CA_CERTS: certFile }
    }
  })
  // nginx's ports, picked once the system's are taken.
  const httpPort = await freePort()
  let httpsPort = await freePort()
  while (httpsPort === httpPort) httpsPort = await freePort()
  const origin = `https://127.0.0.1:${httpsPort}`
  const wsOrigin = `wss://127.0.0.1:${httpsPort}`
  const sim = new SimControl(system.urls.sim)
  const adminKey = system.secrets.adminKey!

  const render = (dir: string, env: Record<string, string>): string => {
    sh(join(root, 'nginx/render.sh'), [dir], { NGINX_BIN: nginx, ...env })
    return join(dir, 'nginx.conf')
  }
  const conf = render(join(work, 'nginx'), {
    NGINX_LISTEN_ADDRESS: '127.0.0.1',
    NGINX_HTTP_PORT: String(httpPort),
    NGINX_HTTPS_PORT: String(httpsPort),
    GATEWAY_UPSTREAM: `127.0.0.1:${system.ports.gateway}`,
    REALTIME_WS_UPSTREAM: `127.0.0.1:${system.ports.realtime}`,
    TLS_CERT: certFile,
    TLS_KEY: keyFile
  })
  const tested = nginxTest(nginx, conf)
  if (tested.status !== 0) throw new Error(`nginx -t failed on the rendered configuration:\n${tested.stderr}`)

  // The access log goes to stdout (/dev/stdout, reopened by nginx): a file here, since a Node pipe is a
  // socket, which /dev/stdout cannot reopen (systemd's journal stream is one too: nginx/README.md).
  const accessLogFile = join(work, 'access.log')
  const stdout = openSync(accessLogFile, 'a')
  let nginxErr = ''
  const nginxProc = proc = spawn(nginx, ['-c', conf, '-g', 'daemon off;'], { stdio: ['ignore', stdout, 'pipe'] })
  closeSync(stdout)
  nginxProc.stderr!.on('data', (chunk: Buffer) => { nginxErr += chunk.toString('utf8') })
  const accessLog = (): string[] => readFileSync(accessLogFile, 'utf8').split('\n').filter((l) => l !== '')

  /** A request over HTTPS (HTTP/1.1), trusting only the test certificate. */
  async function call (path: string, init: RawRequestInit = {}, base = origin, rawPath = false): Promise<RawReply> {
    return await rawRequest(rawPath ? base : new URL(path, base).href, { ...init, ca, ...(rawPath ? { path } : {}) })
  }
  const json = (body: unknown): RawRequestInit => ({ method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })

  // Ready when a request through nginx reaches the gateway.
  for (let i = 0; ; i++) {
    if (nginxProc.exitCode !== null || nginxProc.signalCode !== null) throw new Error(`nginx exited (${nginxProc.signalCode ?? nginxProc.exitCode}):\n${nginxErr}`)
    try {
      if ((await call('/healthz')).status === 200) break
    } catch {}
    if (i > 100) throw new Error(`nginx did not answer within 10 s:\n${nginxErr}`)
    await sleep(100)
  }

  async function login (user: string): Promise<{ token: string, openid: string }> {
    const { code } = await sim.loginCode({ user })
    const res = await call('/api/login', json({ code }))
    if (res.status !== 200) throw new Error(`login failed: ${res.status} ${res.text}`)
    const token: string = res.json().token
    const me = await call('/api/me', { headers: { authorization: `Bearer ${token}` } })
    return { token, openid: me.json().openid }
  }

  t.test('nginx -t passes on the shipped configuration rendered with its defaults', async (t) => {
    const dir = join(work, 'defaults')
    sh(join(root, 'nginx/make-cert.sh'), [dir])
    const defaults = render(dir, {})
    const text = readFileSync(defaults, 'utf8')
    t.notMatch(text, /\$\{[A-Z_]+\}/, 'no placeholder left')
    t.match(text, /listen 443 ssl http2 default_server;|http2 on;/, 'HTTP/2 in the syntax this nginx knows')
    t.match(text, /listen 80 default_server;/)
    t.match(text, /server 127\.0\.0\.1:8080;/)
    const res = nginxTest(nginx, defaults)
    t.equal(res.status, 0, 'nginx -t', { stderr: res.stderr })
    t.match(res.stderr, /test is successful/)
    t.notMatch(res.stderr, /\[(emerg|alert|warn)\]/, 'and without warnings')

    // Every optional part switched on (a real host: OCSP stapling with a resolver and the CA chain, ACME,
    // a load balancer in front, IPv6): still valid.
    const all = render(join(work, 'all-options'), {
      TLS_CERT: certFile,
      TLS_KEY: keyFile,
      TLS_TRUSTED_CERT: certFile,
      NGINX_OCSP_STAPLING: 'on',
      NGINX_RESOLVER: '127.0.0.1 valid=60s',
      NGINX_ACME_ROOT: work,
      NGINX_REAL_IP_FROM: '10.0.0.0/8,192.168.0.0/16',
      NGINX_LISTEN_IPV6: 'on',
      NGINX_WS_DIRECT: 'off',
      NGINX_SERVER_NAME: 'api.example.com www.example.com',
      NGINX_HSTS: 'max-age=63072000; includeSubDomains'
    })
    const allText = readFileSync(all, 'utf8')
    t.match(allText, /ssl_stapling on;/)
    t.match(allText, /set_real_ip_from 10\.0\.0\.0\/8;/)
    t.notMatch(allText, /weapp_realtime/, 'NGINX_WS_DIRECT=off: every upgrade through the gateway')
    const allRes = nginxTest(nginx, all)
    t.equal(allRes.status, 0, 'nginx -t with every option', { stderr: allRes.stderr })

    const bad = spawnSync('sh', [join(root, 'nginx/render.sh'), join(work, 'bad')], { encoding: 'utf8', env: { PATH: process.env.PATH, GATEWAY_UPSTREAM: 'gateway' } })
    t.not(bad.status, 0, 'a malformed variable stops render.sh')
    t.match(bad.stderr, /GATEWAY_UPSTREAM must be host:port/)

    // The per-client limits with their documented defaults (nginx/README.md, "Limits").
    t.match(text, /limit_req_zone\s+\$binary_remote_addr zone=weapp_login:10m rate=1r\/s;/)
    t.match(text, /limit_req zone=weapp_login burst=30 nodelay;\s+limit_conn weapp_login_conn 20;/)
    t.match(text, /limit_req zone=weapp_ws burst=100 nodelay;\s+limit_conn weapp_ws_conn 500;/)
    t.match(text, /limit_req_status 429;/)
    const badRate = spawnSync('sh', [join(root, 'nginx/render.sh'), join(work, 'bad-rate')], { encoding: 'utf8', env: { PATH: process.env.PATH, NGINX_LOGIN_RATE: 'fast' } })
    t.not(badRate.status, 0)
    t.match(badRate.stderr, /NGINX_LOGIN_RATE must be requests per second or minute/)
  })

  t.test('port 80 redirects to HTTPS; HSTS on HTTPS', async (t) => {
    const get = await call(`http://127.0.0.1:${httpPort}/api/me?x=1`)
    t.equal(get.status, 301)
    t.equal(get.headers.location, `https://127.0.0.1:${httpsPort}/api/me?x=1`)
    const post = await call(`http://127.0.0.1:${httpPort}/api/login`, json({ code: 'x' }))
    t.equal(post.status, 308, 'a POST keeps its method')
    t.equal(post.headers.location, `https://127.0.0.1:${httpsPort}/api/login`)
    t.notOk(get.headers['strict-transport-security'], 'no HSTS over plain HTTP')

    const plainToTls = await call(`http://127.0.0.1:${httpsPort}/healthz`)
    t.equal(plainToTls.status, 301, 'plain HTTP on the HTTPS port is redirected too')

    const res = await call('/healthz')
    t.equal(res.status, 200)
    t.match(res.headers['strict-transport-security'], /^max-age=\d{7,}/)
    const refused = await call('/api/me')
    t.equal(refused.status, 401)
    t.match(refused.headers['strict-transport-security'], /^max-age=/, 'on error answers too')
  })

  t.test('TLS 1.2 and 1.3 only', async (t) => {
    // The client can speak TLS 1.0/1.1 (shown against a server that allows them), so a refusal is nginx's.
    const legacy = createTlsServer({ key: readFileSync(keyFile), cert: ca, minVersion: 'TLSv1', ciphers: 'DEFAULT:@SECLEVEL=0' }, (s) => s.end())
    await new Promise<void>((resolve) => legacy.listen(0, '127.0.0.1', resolve))
    t.teardown(() => { legacy.close() })
    const legacyPort = (legacy.address() as { port: number }).port
    for (const version of ['TLSv1', 'TLSv1.1'] as const) {
      t.equal(await handshake(legacyPort, version), version, `the client speaks ${version}`)
      t.equal(await handshake(httpsPort, version), null, `nginx refuses ${version}`)
    }
    t.equal(await handshake(httpsPort, 'TLSv1.2'), 'TLSv1.2')
    t.equal(await handshake(httpsPort, 'TLSv1.3'), 'TLSv1.3')
  })

  async function handshake (port: number, version: SecureVersion): Promise<string | null> {
    return await new Promise((resolve) => {
      const socket = tlsConnect({ host: '127.0.0.1', port, ca, minVersion: version, maxVersion: version, ciphers: 'DEFAULT:@SECLEVEL=0', servername: 'localhost' }, () => {
        const got = socket.getProtocol()
        socket.destroy()
        resolve(got)
      })
      socket.on('error', () => { resolve(null) })
    })
  }

  t.test('HTTP/2 negotiated by ALPN', async (t) => {
    const alice = await login('alice')
    const session = http2Connect(origin, { ca })
    t.teardown(() => { session.close() })
    await new Promise<void>((resolve, reject) => { session.once('connect', () => { resolve() }); session.once('error', reject) })
    t.equal(session.alpnProtocol, 'h2')
    const get = async (path: string, headers: Record<string, string> = {}): Promise<{ status: number, headers: Record<string, unknown>, text: string }> =>
      await new Promise((resolve, reject) => {
        const req = session.request({ ':path': path, ...headers })
        let status = 0
        let resHeaders: Record<string, unknown> = {}
        let text = ''
        req.on('response', (h) => { status = Number(h[':status']); resHeaders = h })
        req.setEncoding('utf8')
        req.on('data', (c: string) => { text += c })
        req.on('end', () => { resolve({ status, headers: resHeaders, text }) })
        req.on('error', reject)
        req.end()
      })
    const health = await get('/healthz')
    t.equal(health.status, 200)
    t.match(health.headers['strict-transport-security'], /max-age=/)
    const me = await get('/api/me', { authorization: `Bearer ${alice.token}` })
    t.equal(me.status, 200)
    t.equal(JSON.parse(me.text).openid, alice.openid)
    // The tunnel URL is built from the Host the client used (HTTP/2's :authority), port included.
    const tunnel = await get('/weapp/tunnel', { authorization: `Bearer ${alice.token}` })
    t.equal(tunnel.status, 200)
    t.match(JSON.parse(tunnel.text).data.connectUrl, new RegExp(`^wss://127\\.0\\.0\\.1:${httpsPort}/weapp/tunnel/socket\\?ticket=`))
  })

  t.test('login, then me, over HTTPS', async (t) => {
    const { code } = await sim.loginCode({ user: 'alice' })
    const res = await call('/api/login', json({ code }))
    t.equal(res.status, 200, 'logged in', { body: res.text })
    const { token } = res.json()
    t.type(token, 'string')
    const me = await call('/api/me', { headers: { authorization: `Bearer ${token}` } })
    t.equal(me.status, 200)
    t.match(me.json(), { openid: /^o/ })
    t.equal((await call('/api/login', json({ code }))).json().code, 'WECHAT_CODE_INVALID', 'the code was used once')
  })

  t.test('WeChat push through nginx: signed safe-mode push answered success, then in the conversations', async (t) => {
    const carol = await login('carol')
    const content = `where is my order? 我的订单在哪里？ ${randomBytes(4).toString('hex')}`
    const pushed = await sim.push({ user: 'carol', message: { MsgType: 'text', Content: content }, url: `${origin}/wechat/callback` })
    t.equal(pushed.acceptable, true, 'WeChat (the simulator) accepts the answer', { attempts: pushed.attempts })
    t.equal(pushed.attempts[0]?.status, 200)
    t.equal(pushed.attempts[0]?.body, 'success')

    let conversation: any
    for (let i = 0; i < 50 && conversation === undefined; i++) {
      const list = await call('/api/cs/conversations', { headers: { authorization: `Bearer ${adminKey}` } })
      t.equal(list.status, 200)
      conversation = list.json().items.find((c: any) => c.openid === carol.openid)
      if (conversation === undefined) await sleep(100)
    }
    t.ok(conversation, 'the conversation is listed')
    const history = await call(`/api/cs/conversations/${carol.openid}/messages`, { headers: { authorization: `Bearer ${adminKey}` } })
    t.ok(history.json().items.some((m: any) => JSON.stringify(m).includes(content)), 'with the pushed text')

    // The console's URL check (GET with echostr): the query reaches cs-messaging as sent, the answer comes back as is.
    const timestamp = String(Math.floor(Date.now() / 1000))
    const nonce = String(Math.floor(Math.random() * 1e9))
    const signature = createHash('sha1').update([system.secrets.pushToken, timestamp, nonce].sort().join('')).digest('hex')
    const echostr = `echo${randomBytes(6).toString('hex')}`
    const verify = await call(`/wechat/callback?signature=${signature}&timestamp=${timestamp}&nonce=${nonce}&echostr=${echostr}`)
    t.equal(verify.status, 200)
    t.equal(verify.text, echostr)
    const forged = await call(`/wechat/callback?signature=${'0'.repeat(40)}&timestamp=${timestamp}&nonce=${nonce}&echostr=${echostr}`)
    t.not(forged.status, 200, 'a wrong signature is still refused by cs-messaging')
  })

  /** realtime-ws's count of sockets let in, by how (`ws_upgrades_total{via}`): gateway (relayed), ticket, session (direct). */
  async function upgradesVia (): Promise<{ gateway: number, ticket: number, session: number }> {
    const res = await fetch(`${system.urls.realtime}/metrics`, { headers: { 'x-internal-token': system.secrets.internalToken } })
    const text = await res.text()
    const count = (via: string): number => Number(new RegExp(`^ws_upgrades_total\\{via="${via}"\\} (\\d+)$`, 'm').exec(text)?.[1] ?? 0)
    return { gateway: count('gateway'), ticket: count('ticket'), session: count('session') }
  }

  t.test('wss with a bearer header or a wafer session in the query: straight to realtime-ws; a logout closes the socket', async (t) => {
    const dave = await login('dave')
    t.equal((await call('/api/me', { method: 'PATCH', headers: { authorization: `Bearer ${dave.token}`, 'content-type': 'application/json' }, body: JSON.stringify({ nickname: 'Dave' }) })).status, 200)
    // A wafer generation 1 login (the seed's client), whose socket carries the session in the query.
    const { code, openid, userInfo } = await sim.loginCode({ user: 'walt' })
    const waferLogin = await call('/login', { headers: { 'x-wx-code': code, 'x-wx-encrypted-data': userInfo.encryptedData, 'x-wx-iv': userInfo.iv } })
    const wafer = waferLogin.json().session as { id: string, skey: string }
    t.ok(wafer?.id, 'wafer session issued', { body: waferLogin.text })

    const before = await upgradesVia()
    const bearer = await Client.open(t, `${wsOrigin}/ws`, { authorization: `Bearer ${dave.token}` }, wss)
    t.equal(await bearer.next(), 'Server: 恭喜，Dave')
    bearer.ws.send('hi')
    t.equal(await bearer.nextText(), 'Server: Received(hi)')
    const waferSocket = await Client.open(t, `${wsOrigin}/ws?x-wx-id=${wafer.id}&x-wx-skey=${wafer.skey}`, {}, wss)
    t.match(await waferSocket.next(), /^Server: 恭喜，/)
    waferSocket.ws.send('hello')
    t.equal(await waferSocket.nextText(), 'Server: Received(hello)')
    const after = await upgradesVia()
    t.equal(after.session - before.session, 2, 'realtime-ws authenticated both itself')
    t.equal(after.gateway, before.gateway, 'none came through the gateway\'s relay')
    t.notOk(accessLog().some((l) => l.includes(wafer.skey)), 'the wafer session is not in the access log')

    // A logout (through nginx and the gateway) closes the direct socket and refuses the next upgrade at once.
    t.equal((await call('/api/logout', { method: 'POST', headers: { authorization: `Bearer ${dave.token}` } })).status, 204)
    t.equal((await bearer.closed).code, 4001, 'the open socket is closed: session ended')
    const again = await refusal(`${wsOrigin}/ws`, { authorization: `Bearer ${dave.token}` }, wss)
    t.equal(again.status, 401)
    t.equal(again.body.code, 'GATEWAY_SESSION_INVALID')
    t.ok(openid)
  })

  t.test('wss with a ticket: straight to realtime-ws, single use', async (t) => {
    const erin = await login('erin')
    const issued = await call('/api/ws/tickets', { method: 'POST', headers: { authorization: `Bearer ${erin.token}` } })
    t.equal(issued.status, 200, 'ticket issued', { body: issued.text })
    const { ticket, url } = issued.json()
    t.equal(url, `/ws?ticket=${ticket}`)
    const ws = await Client.open(t, `${wsOrigin}${url}`, {}, wss)
    t.equal(await ws.next(), `Server: 恭喜，${erin.openid}`)
    ws.ws.send('hi')
    t.equal(await ws.nextText(), 'Server: Received(hi)')

    const again = await refusal(`${wsOrigin}${url}`, {}, wss)
    t.equal(again.status, 401, 'a used ticket is refused before the socket opens')
    t.equal(again.body.code, 'WS_TICKET_INVALID')
    t.match(again.headers['x-request-id'], /^[0-9a-f]{32}$/)

    // The access log has the request id and the path, never the ticket.
    const logged = await waitFor(() => accessLog().filter((l) => l.includes('"path":"/ws"')).length >= 2, { timeoutMs: 3000, what: 'both /ws requests in the access log' })
    t.ok(logged)
    t.notOk(accessLog().some((l) => l.includes(ticket)), 'the ticket is not in the access log')
  })

  t.test('the gateway down: tickets, tunnels and session sockets still open (nginx sends them to realtime-ws), the rest is a 502', async (t) => {
    const frank = await login('frank')
    const auth = { authorization: `Bearer ${frank.token}` }
    const { ticket } = (await call('/api/ws/tickets', { method: 'POST', headers: auth })).json()
    const tunnel = await call('/weapp/tunnel', { headers: auth })
    t.equal(tunnel.status, 200, 'tunnel URL issued', { body: tunnel.text })
    const { connectUrl } = tunnel.json().data
    t.match(connectUrl, new RegExp(`^wss://127\\.0\\.0\\.1:${httpsPort}/weapp/tunnel/socket\\?ticket=[\\w-]+$`), 'the tunnel URL points at nginx')

    await system.stopProcess('gateway')
    try {
      const ws = await Client.open(t, `${wsOrigin}/ws?ticket=${ticket}`, {}, wss)
      t.equal(await ws.next(), `Server: 恭喜，${frank.openid}`)
      ws.ws.send('still here')
      t.equal(await ws.nextText(), 'Server: Received(still here)')

      const socket = await Client.open(t, connectUrl, {}, wss)
      t.equal(await socket.next(), 'timeout:15')
      socket.ws.send('ping')
      t.equal(await socket.next(), 'pong')

      const bearer = await Client.open(t, `${wsOrigin}/ws`, auth, wss)
      t.equal(await bearer.next(), `Server: 恭喜，${frank.openid}`, 'a bearer upgrade needs no gateway either')
      const api = await call('/api/me', { headers: auth })
      t.equal(api.status, 502)
      t.equal(api.json().code, 'PROXY_UPSTREAM_UNAVAILABLE')
    } finally {
      await system.startProcess('gateway')
    }
    t.equal((await call('/api/me', { headers: auth })).status, 200, 'back once the gateway is')
  })

  t.test('refused upgrades are readable 401s; internal headers cannot be forged on a direct hit', async (t) => {
    const none = await refusal(`${wsOrigin}/ws`, {}, wss)
    t.equal(none.status, 401)
    t.equal(none.body.code, 'GATEWAY_AUTH_REQUIRED')
    const badTicket = await refusal(`${wsOrigin}/ws?ticket=not-a-ticket`, {}, wss)
    t.equal(badTicket.status, 401)
    t.equal(badTicket.body.code, 'WS_TICKET_INVALID')
    const tunnel = await refusal(`${wsOrigin}/weapp/tunnel/socket`, {}, wss)
    t.equal(tunnel.status, 401, 'a tunnel socket without its ticket')

    // Every upgrade goes straight to realtime-ws, which takes the gateway's internal credential for the gateway's
    // relay: with the real internal token and an admin identity, only nginx clearing those headers keeps the
    // socket shut (`?TICKET=` is no ticket to realtime-ws).
    const forgedHeaders = {
      'x-internal-token': system.secrets.internalToken,
      'x-weapp-identity': encodeIdentity({ kind: 'admin', keyId: 'dev' })
    }
    const direct = await refusal(`${wsOrigin}/ws?TICKET=x`, forgedHeaders, wss)
    t.equal(direct.status, 401)
    t.equal(direct.body.code, 'GATEWAY_AUTH_REQUIRED', 'the forged headers never reached realtime-ws: no credential at all')
    const plain = await refusal(`${wsOrigin}/ws`, forgedHeaders, wss)
    t.equal(plain.status, 401)
    t.equal(plain.body.code, 'GATEWAY_AUTH_REQUIRED')

    const internal = await call('/internal/resolve')
    t.equal(internal.status, 404)
    t.equal(internal.json().code, 'PROXY_NOT_FOUND')
  })

  t.test('the agent console through nginx: its files with the CSP and cache headers, its socket through the gateway', async (t) => {
    const index = await call('/console/')
    t.equal(index.status, 200, 'the console build is served (pnpm build makes it)', { body: index.text.slice(0, 300) })
    t.match(index.headers['content-type'], /^text\/html/)
    t.match(index.headers['content-security-policy'], /^default-src 'none'; script-src 'self'; .*frame-ancestors 'none'$/)
    t.equal(index.headers['x-content-type-options'], 'nosniff')
    t.equal(index.headers['cache-control'], 'no-cache')
    const script = /src="(\/console\/assets\/[^"]+\.js)"/.exec(index.text)?.[1]
    t.ok(script, 'index.html loads a hashed script')
    if (script !== undefined) {
      const asset = await call(script)
      t.equal(asset.status, 200)
      t.equal(asset.headers['cache-control'], 'public, max-age=31536000, immutable')
      t.match(asset.headers['content-security-policy'], /^default-src 'none'/)
    }
    const bare = await call('/console')
    t.equal(bare.status, 301)
    t.equal(bare.headers.location, '/console/')

    const socket = await refusal(`${wsOrigin}/console/ws`, { origin }, wss)
    t.equal(socket.status, 401, 'the console socket goes through the gateway, which wants the cookie')
    t.equal(socket.body.code, 'GATEWAY_AUTH_REQUIRED')
  })

  t.test('body limits: nginx refuses above the gateway limits, never below', async (t) => {
    const loginBody = (size: number): string => JSON.stringify({ code: 'x'.repeat(size - JSON.stringify({ code: '' }).length) })
    t.equal(Buffer.byteLength(loginBody(BODY_LIMIT)), BODY_LIMIT)
    const atLimit = await call('/api/login', { method: 'POST', headers: { 'content-type': 'application/json' }, body: loginBody(BODY_LIMIT) })
    t.not(atLimit.json().code, 'PROXY_BODY_TOO_LARGE', 'exactly BODY_LIMIT bytes pass nginx; the services answer', { status: atLimit.status, body: atLimit.text })
    const over = await call('/api/login', { method: 'POST', headers: { 'content-type': 'application/json' }, body: loginBody(BODY_LIMIT + 1) })
    t.equal(over.status, 413)
    t.same(over.json(), { statusCode: 413, code: 'PROXY_BODY_TOO_LARGE', error: 'Payload Too Large', message: 'Request body is too large' })
    t.match(over.headers['x-request-id'], /^[0-9a-f]{32}$/)

    // A push of exactly PUSH_BODY_LIMIT bytes reaches cs-messaging (which refuses its forged signature).
    const pushAt = await call('/wechat/callback?signature=x&timestamp=1&nonce=1', { method: 'POST', headers: { 'content-type': 'text/xml' }, body: 'x'.repeat(PUSH_BODY_LIMIT) })
    t.match(pushAt.json(), { code: /^CS_/ }, 'exactly PUSH_BODY_LIMIT bytes go through nginx and the gateway to cs-messaging', { body: pushAt.text })
    const push = await call('/wechat/callback?signature=x&timestamp=1&nonce=1', { method: 'POST', headers: { 'content-type': 'text/xml' }, body: 'x'.repeat(PUSH_BODY_LIMIT + 1) })
    t.equal(push.status, 413)
    t.equal(push.json().code, 'PROXY_BODY_TOO_LARGE')

    const admin = { authorization: `Bearer ${adminKey}` }
    const image = Buffer.alloc(1024 * 1024, 7)
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]).copy(image)
    const uploaded = await call('/api/cs/media', multipart(image, admin))
    t.equal(uploaded.status, 201, 'a 1 MiB image goes through nginx to cs-messaging', { body: uploaded.text })
    t.match(uploaded.json(), { mediaId: String })

    // Exactly the gateway's upload limit passes nginx (cs-messaging refuses the file, over 2 MiB); one more byte does not.
    const exact = multipart(Buffer.alloc(0), admin)
    const padding = UPLOAD_BODY_LIMIT - (exact.body as Buffer).length
    const big = multipart(Buffer.concat([image.subarray(0, 8), Buffer.alloc(padding - 8, 7)]), admin)
    t.equal((big.body as Buffer).length, UPLOAD_BODY_LIMIT)
    const atUploadLimit = await call('/api/cs/media', big)
    t.equal(atUploadLimit.status, 413)
    t.equal(atUploadLimit.json().code, 'CS_MEDIA_TOO_LARGE', 'answered by cs-messaging, not nginx')
    const bigger = multipart(Buffer.concat([image.subarray(0, 8), Buffer.alloc(padding - 7, 7)]), admin)
    const overUploadLimit = await call('/api/cs/media', bigger)
    t.equal(overUploadLimit.status, 413)
    t.equal(overUploadLimit.json().code, 'PROXY_BODY_TOO_LARGE')
  })

  t.test('X-Request-Id: nginx makes one, keeps a well-formed one from the client', async (t) => {
    const made = await call('/healthz')
    t.match(made.headers['x-request-id'], /^[0-9a-f]{32}$/, 'one id, nginx\'s')
    const id = `e2e-${randomBytes(6).toString('hex')}:nginx.1`
    const kept = await call('/api/me', { headers: { 'x-request-id': id } })
    t.equal(kept.status, 401)
    t.equal(kept.headers['x-request-id'], id)
    const replaced = await call('/healthz', { headers: { 'x-request-id': 'not a good id' } })
    t.match(replaced.headers['x-request-id'], /^[0-9a-f]{32}$/)
    const line = await waitFor(() => accessLog().find((l) => l.includes(id)), { timeoutMs: 3000, what: 'the request id in the access log' })
    t.ok(line, 'the access log carries it')
    if (line !== undefined) t.match(JSON.parse(line), { request_id: id, method: 'GET', path: '/api/me', status: 401, upstream_status: '401', tls: /^TLSv1\.[23]$/ })
  })

  t.test('X-Forwarded-For from the client does not change who the gateway thinks the client is', async (t) => {
    // nginx replaces X-Forwarded-For with the peer address. Appending instead would let this loopback
    // client (trusted as nginx's own address) pick any IP and a fresh login budget per request.
    const spoofed = new Set<string>()
    while (spoofed.size < 5) spoofed.add(`198.51.100.${1 + Math.floor(Math.random() * 254)}`)
    const remaining: number[] = []
    for (const ip of spoofed) {
      const res = await call('/api/login', {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-forwarded-for': ip, 'x-real-ip': ip, forwarded: `for=${ip}` },
        body: JSON.stringify({ code: 'nope' })
      })
      t.not(res.status, 429)
      remaining.push(Number(res.headers['x-ratelimit-remaining']))
    }
    t.ok(remaining.every((r) => Number.isInteger(r) && r < LOGIN_MAX), `the login limit counted them (${remaining.join(', ')})`)
    // One budget (127.0.0.1): it only goes down. Five fresh budgets would each show LOGIN_MAX - 1. A window
    // that ends (or another test file's logins, with a shared Redis) cannot make two readings fresh.
    t.ok(remaining.filter((r) => r === LOGIN_MAX - 1).length <= 1, 'all against the same client')
    if (process.env.REDIS_URL !== undefined && process.env.REDIS_URL !== '') {
      const redis = createRedis(process.env.REDIS_URL)
      t.teardown(async () => { await redis.quit() })
      for (const ip of spoofed) t.equal(await redis.exists(LOGIN_RATE_LIMIT_KEY_PREFIX + ip), 0, `no budget for ${ip}`)
      t.equal(await redis.exists(`${LOGIN_RATE_LIMIT_KEY_PREFIX}127.0.0.1`), 1, 'the real client address has one')
    }
  })

  t.test('/metrics is never forwarded: nginx answers 404 itself, however the path is spelled', async (t) => {
    for (const path of ['/metrics', '/metrics/', '/metrics?format=prometheus', '//metrics', '/%6Detrics', '/metrics/x']) {
      // The path as written (a URL would read //metrics as a host).
      const res = await call(path, { headers: { authorization: `Bearer ${adminKey}` } }, origin, true)
      t.equal(res.status, 404, path)
      t.same(res.json(), { statusCode: 404, code: 'PROXY_NOT_FOUND', error: 'Not Found', message: 'Not found' }, `${path}: nginx's answer`)
      t.match(res.headers['strict-transport-security'], /^max-age=/)
    }
    const line = await waitFor(() => accessLog().find((l) => l.includes('"path":"/%6Detrics"')), { timeoutMs: 3000, what: 'the /%6Detrics request in the access log' })
    t.ok(line, 'logged')
    if (line !== undefined) t.match(JSON.parse(line), { status: 404, upstream: '' }, 'no upstream was asked')
  })

  t.test('/readyz through nginx: the status only, never which upstream is down', async (t) => {
    const ready = await call('/readyz')
    t.equal(ready.status, 200)
    t.same(ready.json(), { status: 'ok' }, 'no upstream list')
    t.same((await call('/readyz/')).json(), { status: 'ok' })
    t.equal((await call('/readyz', { method: 'POST' })).status, 403, 'GET and HEAD only')
    t.equal((await call('/_weapp_readyz')).status, 404, 'the subrequest location is internal')

    await system.stopProcess('cs')
    try {
      // The gateway itself says 503 (its detail, if any, stays on the backend network)...
      const direct = await fetch(`${system.urls.gateway}/readyz`)
      t.equal(direct.status, 503)
      // ...nginx passes the status on, and nothing else.
      const down = await call('/readyz')
      t.equal(down.status, 503)
      t.same(down.json(), { status: 'unavailable' })
    } finally {
      await system.startProcess('cs')
    }
    t.equal((await call('/readyz')).status, 200, 'ready again')
  })

  t.test('WebSocket sockets per client address are capped (NGINX_WS_CONN): the next upgrade is a 429 from nginx', async (t) => {
    // A second nginx with a cap of 2 open sockets per address, in front of the same system.
    const port = await freePort()
    const limited = render(join(work, 'ws-limit'), {
      NGINX_LISTEN_ADDRESS: '127.0.0.1',
      NGINX_HTTP_PORT: String(await freePort()),
      NGINX_HTTPS_PORT: String(port),
      GATEWAY_UPSTREAM: `127.0.0.1:${system.ports.gateway}`,
      REALTIME_WS_UPSTREAM: `127.0.0.1:${system.ports.realtime}`,
      TLS_CERT: certFile,
      TLS_KEY: keyFile,
      NGINX_ACCESS_LOG: 'off',
      NGINX_WS_CONN: '2'
    })
    const second = spawn(nginx, ['-c', limited, '-g', 'daemon off;'], { stdio: ['ignore', 'ignore', 'pipe'] })
    t.teardown(async () => {
      const exited = new Promise((resolve) => second.once('exit', resolve))
      second.kill('SIGTERM')
      await exited
    })
    for (let i = 0; ; i++) {
      try {
        if ((await call('/healthz', {}, `https://127.0.0.1:${port}`)).status === 200) break
      } catch {}
      if (i > 100) throw new Error('the second nginx did not start')
      await sleep(100)
    }
    const base = `wss://127.0.0.1:${port}`
    const grace = await login('grace')
    const auth = { authorization: `Bearer ${grace.token}` }
    const first = await Client.open(t, `${base}/ws`, auth, wss)
    t.equal(await first.next(), `Server: 恭喜，${grace.openid}`)
    const ticket = (await call('/api/ws/tickets', { method: 'POST', headers: auth })).json().ticket
    const ticketed = await Client.open(t, `${base}/ws?ticket=${ticket}`, {}, wss)
    t.equal(await ticketed.next(), `Server: 恭喜，${grace.openid}`, 'the direct path counts too')

    const third = await refusal(`${base}/ws`, auth, wss)
    t.ok(isProxyRateLimited(third), `a third socket: ${third.status} ${JSON.stringify(third.body)}`)
    const tunnel = await refusal(`${base}/weapp/tunnel/socket?ticket=x`, {}, wss)
    t.ok(isProxyRateLimited(tunnel), 'the tunnel socket shares the cap')

    first.ws.close()
    await first.closed
    await sleep(200)
    const again = await Client.open(t, `${base}/ws`, auth, wss)
    t.equal(await again.next(), `Server: 恭喜，${grace.openid}`, 'a closed socket frees its place')
  })

  // Last: it spends this address's login budget at nginx.
  t.test('a burst of logins beyond NGINX_LOGIN_BURST is refused by nginx with 429, before the gateway', async (t) => {
    const burst = 60
    const started = Date.now()
    const paths = ['/api/login', '/login', '/weapp/login']
    const results = await Promise.all(Array.from({ length: burst }, async (_, i) => {
      const path = paths[i % paths.length]!
      return path === '/api/login'
        ? await call(path, json({ code: `nope-${i}` }))
        : await call(path, { headers: { 'x-wx-code': `nope-${i}` } })
    }))
    const seconds = Math.ceil((Date.now() - started) / 1000)
    const limited = results.filter((r) => isProxyRateLimited({ status: r.status, body: r.status === 429 ? r.json() : undefined }))
    const passed = results.filter((r) => r.status !== 429)
    // nginx lets at most its burst (30) plus its rate (1/s) × the elapsed time through; the gateway's own
    // limit is 1,000 in this run, so every 429 here is nginx's.
    t.ok(passed.length <= 30 + seconds + 1, `${passed.length} reached the gateway in ${seconds} s`)
    t.ok(limited.length >= burst - 31 - seconds, `${limited.length} refused by nginx`)
    t.equal(limited.length + passed.length, burst, 'every refusal is nginx\'s PROXY_RATE_LIMITED')
    t.ok(passed.every((r) => r.status >= 200 && r.status < 500), 'the rest were answered by the services (refusing the bad code)', { statuses: passed.map((r) => r.status) })
    const refusedHere = results.find((r) => r.status === 429)
    if (refusedHere !== undefined) t.match(refusedHere.headers['strict-transport-security'], /^max-age=/)
  })
}

/** A one-file multipart/form-data body in the field `media`. */
function multipart (file: Buffer, headers: Record<string, string>): RawRequestInit {
  const boundary = `----weapp${randomBytes(8).toString('hex')}`
  const body = Buffer.concat([
    Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="media"; filename="photo.png"\r\nContent-Type: image/png\r\n\r\n`),
    file,
    Buffer.from(`\r\n--${boundary}--\r\n`)
  ])
  return { method: 'POST', headers: { ...headers, 'content-type': `multipart/form-data; boundary=${boundary}` }, body }
}

/** A request nginx refused with its own 429 (limit_req / limit_conn), in the services' JSON shape. */
function isProxyRateLimited (r: { status: number, body: any }): boolean {
  return r.status === 429 && r.body?.code === 'PROXY_RATE_LIMITED'
}

function nginxTest (nginx: string, conf: string): { status: number | null, stderr: string } {
  return spawnSync(nginx, ['-t', '-c', conf], { encoding: 'utf8', stdio: ['ignore', 'ignore', 'pipe'] })
}

function sh (script: string, args: string[], env: Record<string, string> = {}): void {
  const res = spawnSync('sh', [script, ...args], { encoding: 'utf8', env: { PATH: process.env.PATH ?? '', ...env } })
  if (res.status !== 0) throw new Error(`${script} ${args.join(' ')} failed (${res.status ?? res.signal}):\n${res.stderr}`)
}
