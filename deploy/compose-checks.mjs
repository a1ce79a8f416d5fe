// The HTTP checks of scripts/compose-test.sh, run on the host against the stack it started: everything goes
// through the nginx container's published HTTPS port, as a mini-program would, except the calls to the
// simulator's control API (/sim/*), which play WeChat. Prints "ok - ..." or "FAIL - ..." per check;
// the shell script counts them. Plain Node ≥ 20 ESM; `ws` comes from realtime-ws's dependencies.
//   BASE=https://127.0.0.1:<port>  HTTP_BASE=http://127.0.0.1:<port>  SIM=http://127.0.0.1:<port>
//   ADMIN_KEY=<key>  NODE_EXTRA_CA_CERTS=<the test certificate>  node deploy/compose-checks.mjs
import { createRequire } from 'node:module'
import { setTimeout as sleep } from 'node:timers/promises'

const require = createRequire(new URL('../services/realtime-ws/package.json', import.meta.url))
const WebSocket = require('ws')

const { BASE, HTTP_BASE, SIM, ADMIN_KEY } = process.env
if (!BASE || !HTTP_BASE || !SIM || !ADMIN_KEY) {
  console.error('compose-checks: BASE, HTTP_BASE, SIM and ADMIN_KEY are required')
  process.exit(2)
}
const user = `compose-${Date.now().toString(36)}`
const nickname = 'Compose Alice'
let failures = 0

async function check (name, fn) {
  try {
    const detail = await fn()
    console.log(`ok - ${name}${detail ? ` (${detail})` : ''}`)
  } catch (err) {
    failures++
    console.log(`FAIL - ${name}: ${describe(err)}`)
  }
}

/** fetch() says only "fetch failed": the reason (ECONNREFUSED, a certificate, a reset) is in its cause. */
function describe (err) {
  if (!(err instanceof Error)) return String(err)
  const cause = err.cause instanceof Error ? `: ${err.cause.code ?? ''} ${err.cause.message}`.replace(/: +/, ': ') : ''
  return `${err.message}${cause}`
}

function assert (condition, message) {
  if (!condition) throw new Error(message)
}

async function json (res) {
  const text = await res.text()
  try { return JSON.parse(text) } catch { return { raw: text.slice(0, 200) } }
}

async function call (method, url, { token, body, headers = {} } = {}) {
  const res = await fetch(url, {
    method,
    headers: {
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      ...headers
    },
    body: body === undefined ? undefined : JSON.stringify(body),
    redirect: 'manual',
    signal: AbortSignal.timeout(15_000)
  })
  return { status: res.status, headers: res.headers, body: await json(res) }
}

/** Opens a socket, collects the greeting, sends one message and collects its echo. */
function greetAndEcho (url, options, message) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, options)
    const frames = []
    const timer = setTimeout(() => { ws.terminate(); reject(new Error(`timed out, frames: ${JSON.stringify(frames)}`)) }, 10_000)
    ws.on('unexpected-response', (_req, res) => {
      clearTimeout(timer)
      reject(new Error(`upgrade refused: HTTP ${res.statusCode}`))
    })
    ws.on('error', (err) => { clearTimeout(timer); reject(err) })
    ws.on('message', (data) => {
      frames.push(String(data))
      if (frames.length === 1) ws.send(message)
      if (frames.length === 2) {
        clearTimeout(timer)
        ws.close(1000)
        resolve(frames)
      }
    })
  })
}

let token
let openid

await check('GET /healthz and /readyz through nginx (HTTPS, every upstream ready)', async () => {
  const health = await call('GET', `${BASE}/healthz`)
  assert(health.status === 200, `/healthz ${health.status}`)
  const ready = await call('GET', `${BASE}/readyz`)
  assert(ready.status === 200, `/readyz ${ready.status} ${JSON.stringify(ready.body)}`)
  assert(health.headers.get('strict-transport-security'), 'no HSTS header')
  return `HSTS ${health.headers.get('strict-transport-security')}`
})

await check('the agent console through nginx: /console/ from the gateway image, with its CSP', async () => {
  const res = await fetch(`${BASE}/console/`, { redirect: 'manual', signal: AbortSignal.timeout(15_000) })
  const html = await res.text()
  assert(res.status === 200, `status ${res.status}: ${html.slice(0, 200)}`)
  const csp = res.headers.get('content-security-policy') ?? ''
  assert(csp.startsWith("default-src 'none'"), `CSP ${csp}`)
  assert(html.includes('/console/assets/'), 'index.html names no built asset')
  return `cache-control ${res.headers.get('cache-control')}`
})

await check('plain HTTP port redirects to HTTPS', async () => {
  const res = await call('GET', `${HTTP_BASE}/api/me`)
  assert(res.status === 301, `status ${res.status}`)
  const location = res.headers.get('location') ?? ''
  assert(location.startsWith('https://') && location.endsWith('/api/me'), `location ${location}`)
  return location
})

await check('login through nginx: simulator code → POST /api/login', async () => {
  const code = await call('POST', `${SIM}/sim/login-code`, { body: { user } })
  assert(code.status === 200 && typeof code.body.code === 'string', `login-code ${code.status} ${JSON.stringify(code.body)}`)
  const login = await call('POST', `${BASE}/api/login`, { body: { code: code.body.code } })
  assert(login.status === 200 && typeof login.body.token === 'string', `login ${login.status} ${JSON.stringify(login.body)}`)
  token = login.body.token
  openid = login.body.user?.openid
  assert(typeof openid === 'string', 'no user.openid in the login answer')
  const again = await call('POST', `${BASE}/api/login`, { body: { code: code.body.code } })
  assert(again.status === 401 && again.body.code === 'WECHAT_CODE_INVALID', `second use of the code: ${again.status} ${again.body.code}`)
  return `openid ${openid}`
})

await check('GET /api/me and PATCH /api/me with the token', async () => {
  assert(token, 'no token (login failed)')
  const me = await call('GET', `${BASE}/api/me`, { token })
  assert(me.status === 200 && me.body.openid === openid, `me ${me.status} ${JSON.stringify(me.body)}`)
  const patched = await call('PATCH', `${BASE}/api/me`, { token, body: { nickname } })
  assert(patched.status === 200 && patched.body.nickname === nickname, `patch ${patched.status} ${JSON.stringify(patched.body)}`)
  const anonymous = await call('GET', `${BASE}/api/me`)
  assert(anonymous.status === 401, `without a token: ${anonymous.status}`)
})

const content = `hello from compose ${user}`
await check('signed safe-mode push: simulator → nginx → gateway → cs-messaging, answered success', async () => {
  const pushed = await call('POST', `${SIM}/sim/push`, { body: { user, message: { MsgType: 'text', Content: content } } })
  assert(pushed.status === 200, `sim/push ${pushed.status} ${JSON.stringify(pushed.body)}`)
  assert(pushed.body.acceptable === true, `not acceptable: ${JSON.stringify(pushed.body).slice(0, 400)}`)
  const last = pushed.body.attempts?.at(-1)
  return `delivery ${pushed.body.deliveries}, HTTP ${last?.status}, ${last?.latencyMs} ms`
})

await check('the push is recorded: GET /api/cs/conversations (admin key) lists the user', async () => {
  const denied = await call('GET', `${BASE}/api/cs/conversations`)
  assert(denied.status === 401, `without the admin key: ${denied.status}`)
  for (let i = 0; i < 20; i++) {
    const res = await call('GET', `${BASE}/api/cs/conversations`, { token: ADMIN_KEY })
    assert(res.status === 200, `conversations ${res.status} ${JSON.stringify(res.body)}`)
    const text = JSON.stringify(res.body)
    if (text.includes(openid)) {
      const history = await call('GET', `${BASE}/api/cs/conversations/${encodeURIComponent(openid)}/messages`, { token: ADMIN_KEY })
      assert(history.status === 200, `messages ${history.status}`)
      assert(JSON.stringify(history.body).includes(content), 'the message text is not in the history')
      return 'conversation and message found'
    }
    await sleep(250)
  }
  throw new Error('the user never appeared in the conversation list')
})

await check('wss /ws with the bearer token (through the gateway): greeting and echo', async () => {
  const wsBase = BASE.replace(/^https/, 'wss')
  const frames = await greetAndEcho(`${wsBase}/ws`, { headers: { authorization: `Bearer ${token}` } }, 'hi there')
  assert(frames[0] === `Server: 恭喜，${nickname}`, `greeting ${JSON.stringify(frames[0])}`)
  assert(frames[1] === 'Server: Received(hi there)', `echo ${JSON.stringify(frames[1])}`)
  return frames.join(' | ')
})

await check('wss /ws?ticket= (nginx straight to realtime-ws): greeting and echo', async () => {
  const issued = await call('POST', `${BASE}/api/ws/tickets`, { token })
  assert(issued.status === 200 && typeof issued.body.ticket === 'string', `tickets ${issued.status} ${JSON.stringify(issued.body)}`)
  const wsBase = BASE.replace(/^https/, 'wss')
  const frames = await greetAndEcho(`${wsBase}/ws?ticket=${encodeURIComponent(issued.body.ticket)}`, {}, 'ticketed')
  assert(frames[0] === `Server: 恭喜，${nickname}`, `greeting ${JSON.stringify(frames[0])}`)
  assert(frames[1] === 'Server: Received(ticketed)', `echo ${JSON.stringify(frames[1])}`)
  return frames.join(' | ')
})

await check('logout ends the session at once', async () => {
  const out = await call('POST', `${BASE}/api/logout`, { token })
  assert(out.status === 204, `logout ${out.status}`)
  const me = await call('GET', `${BASE}/api/me`, { token })
  assert(me.status === 401, `after logout: ${me.status}`)
})

process.exitCode = failures === 0 ? 0 : 1
