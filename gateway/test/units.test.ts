import { createHash } from 'node:crypto'
import { once } from 'node:events'
import { connect, createServer } from 'node:net'
import t from 'tap'
import { TtlLru } from '@weapp/common'
import { CREDENTIAL_SHAPES, MALFORMED, bearerToken, credentialHash, extractCredential, waferQueryCredentials } from '../src/auth/credentials.js'
import { coalesceWrites } from '../src/proxy/coalescing-connector.js'
import { isForwardablePath } from '../src/proxy/path.js'
import { UPSTREAMS } from '../src/routes-table.js'
// The session service's own credential minting: the gateway's shape check must accept all of it.
import { generateCredential } from '../../services/session/src/sessions/credentials.js'

const sha256 = (s: string): string => createHash('sha256').update(s).digest('hex')

t.test('credentialHash follows docs/internals.md', async (t) => {
  t.equal(credentialHash({ kind: 'bearer', token: 'tok' }), sha256('bearer:tok'))
  t.equal(credentialHash({ kind: 'wafer1', id: 'the-id', skey: 'the-skey' }), sha256('wafer1:the-id:the-skey'))
  t.equal(credentialHash({ kind: 'wafer2', skey: 'the-skey' }), sha256('wafer2:the-skey'))
})

t.test('bearer tokens', async (t) => {
  t.equal(bearerToken({ authorization: 'Bearer abc' }), 'abc')
  t.equal(bearerToken({ authorization: 'bearer abc' }), 'abc')
  t.equal(bearerToken({ authorization: 'BEARER   abc  ' }), 'abc')
  t.equal(bearerToken({ authorization: 'Basic abc' }), undefined)
  t.equal(bearerToken({ authorization: 'Bearer' }), undefined)
  t.equal(bearerToken({ authorization: 'Bearer a b' }), undefined)
  t.equal(bearerToken({ authorization: 'Bearerabc' }), undefined)
  t.equal(bearerToken({}), undefined)
})

t.test('wafer query credentials', async (t) => {
  t.same(waferQueryCredentials('/ws?X-WX-Id=i&X-WX-Skey=s'), { id: 'i', skey: 's' })
  t.same(waferQueryCredentials('/ws?x-wx-skey=s%2Bx&x-wx-id=i+d'), { id: 'i d', skey: 's+x' })
  t.same(waferQueryCredentials('/ws?X-WX-Id=first&X-WX-Id=second'), { id: 'first' })
  t.same(waferQueryCredentials('/ws?X-WX-Id=%zz'), {}, 'undecodable values are ignored')
  t.same(waferQueryCredentials('/ws'), {})
  t.same(waferQueryCredentials('/ws?X-WX-Id'), {})
})

t.test('credential extraction per policy', async (t) => {
  // The shapes the session service issues: bearer base64url(32 bytes), wafer id hex(32), skey hex(20).
  const b = 'A'.repeat(42) + '_'
  const i = '1'.repeat(64)
  const s = 'f'.repeat(40)
  const w1 = { 'x-wx-id': i, 'x-wx-skey': s }
  t.match(extractCredential('user', { authorization: `Bearer ${b}`, ...w1 }, '/api/me'), { kind: 'bearer', token: b }, 'bearer first')
  t.match(extractCredential('user', w1, '/api/me'), { kind: 'wafer1', id: i, skey: s })
  t.match(extractCredential('user', { 'x-wx-skey': s }, '/api/me'), { kind: 'wafer2', skey: s })
  t.equal(extractCredential('user', {}, `/api/me?X-WX-Id=${i}&X-WX-Skey=${s}`), null, 'no query credentials on /api')
  t.equal(extractCredential('user', { authorization: 'Bearer ' + 'x'.repeat(513) }, '/'), MALFORMED.bearer)
  t.match(extractCredential('wafer1', {}, `/me?X-WX-Id=${i}&X-WX-Skey=${s}`), { kind: 'wafer1', id: i, skey: s })
  t.equal(extractCredential('wafer1', { 'x-wx-skey': s }, `/me?X-WX-Id=${i}&X-WX-Skey=${s}`), null, 'half in headers: none')
  t.equal(extractCredential('wafer1', { authorization: `Bearer ${b}` }, '/me'), null, 'bearer is not a wafer credential')
  t.equal(extractCredential('wafer1', { 'x-wx-id': '', 'x-wx-skey': s }, '/me'), MALFORMED.wafer1)
  t.match(extractCredential('wafer2', { 'x-wx-skey': s, 'x-wx-id': 'ignored' }, '/weapp/user'), { kind: 'wafer2', skey: s })
  t.equal(extractCredential('wafer2', {}, '/weapp/user'), null)
  const c = extractCredential('wafer2', { 'x-wx-skey': s }, '/')
  t.equal(c !== null && 'hash' in c ? c.hash : '', sha256(`wafer2:${s}`))
})

t.test('a credential not of the shape the session service issues is malformed (no lookup), of its kind', async (t) => {
  const b = 'A'.repeat(43)
  const i = '1'.repeat(64)
  const s = 'f'.repeat(40)
  for (const token of [b.slice(1), b + 'A', b.slice(1) + '=', b.slice(1) + '+', b.slice(1) + '/', b.slice(1) + '.', b.slice(1) + '\u00e9', 'x'.repeat(600)]) {
    t.equal(extractCredential('user', { authorization: `Bearer ${token}` }, '/api/me'), MALFORMED.bearer, `bearer ${token.length} chars`)
  }
  for (const [id, skey] of [[i.slice(1), s], [i, s.slice(1)], [i.toUpperCase().replace(/1/g, 'A'), s], [i, s.toUpperCase()], [i, 'g'.repeat(40)], [i + '0', s]]) {
    t.equal(extractCredential('wafer1', { 'x-wx-id': id!, 'x-wx-skey': skey! }, '/me'), MALFORMED.wafer1, `wafer1 ${id!.length}/${skey!.length}`)
    t.equal(extractCredential('anyUser', {}, `/ws?X-WX-Id=${id!}&X-WX-Skey=${skey!}`), MALFORMED.wafer1, 'from the query too (refused in the wafer1 shape)')
  }
  for (const skey of [s.slice(1), s + 'f', 'F'.repeat(40), 'z'.repeat(40)]) {
    t.equal(extractCredential('wafer2', { 'x-wx-skey': skey }, '/weapp/user'), MALFORMED.wafer2, `wafer2 ${skey}`)
  }
})

t.test('every credential the session service mints has the shape the gateway accepts', async (t) => {
  for (let n = 0; n < 200; n++) {
    const bearer = generateCredential('bearer')
    t.match(extractCredential('user', { authorization: `Bearer ${bearer.token}` }, '/api/me'), { kind: 'bearer', token: bearer.token })
    const wafer1 = generateCredential('wafer1')
    t.match(extractCredential('wafer1', { 'x-wx-id': wafer1.id, 'x-wx-skey': wafer1.skey }, '/me'), { kind: 'wafer1' })
    const wafer2 = generateCredential('wafer2')
    t.match(extractCredential('wafer2', { 'x-wx-skey': wafer2.skey }, '/weapp/user'), { kind: 'wafer2' })
  }
  t.equal(CREDENTIAL_SHAPES.bearer.test(generateCredential('bearer').token), true)
})

t.test('forwardable paths', async (t) => {
  for (const ok of ['/api/me', '/api/me?x=../y', '/api/me/a.b', '/api/me/.well', '/api/me/%E4%BD%A0', '/api/me/...']) t.ok(isForwardablePath(ok), ok)
  for (const bad of ['api/me', '//internal', 'http://x/api', '/api/me/..', '/api/me/../internal', '/api/me/./x', '/api/%2e%2e/internal', '/api/me/..%2finternal', '/api/me/a%2Fb', '/api/me\\..\\x', '/api/me/%5c', '/api/me/%00', '/api/me/%zz']) {
    t.notOk(isForwardablePath(bad), bad)
  }
})

t.test('TtlLru', async (t) => {
  const lru = new TtlLru<number>(2)
  lru.set('a', 1, 100)
  lru.set('b', 2, 100)
  t.equal(lru.get('a', 50), 1)
  lru.set('c', 3, 100)
  t.equal(lru.get('b', 50), undefined, 'least recently used evicted')
  t.equal(lru.get('a', 50), 1)
  t.equal(lru.get('c', 100), undefined, 'expired at its deadline')
  t.equal(lru.size, 1)
  t.ok(lru.delete('a'))
  t.equal(lru.size, 0)
  t.throws(() => new TtlLru(0))
})

t.test('the route table never exposes /internal/', async (t) => {
  for (const upstream of Object.values(UPSTREAMS)) {
    for (const route of upstream.routes) t.notMatch(route.path.toLowerCase(), /^\/internal(\/|$)/, route.path)
  }
})

t.test('request loggers are made only when something is logged, and then carry their bindings', async (t) => {
  const { lazyChildLoggerFactory } = await import('@weapp/common')
  const lines: Array<{ level: string, bindings: unknown, args: unknown[] }> = []
  let children = 0
  const makeLogger = (bindings: unknown, enabled: Set<string>): any => {
    const log = (level: string) => (...args: unknown[]) => { lines.push({ level, bindings, args }) }
    return {
      level: 'info',
      isLevelEnabled: (l: string) => enabled.has(l),
      fatal: log('fatal'),
      error: log('error'),
      warn: log('warn'),
      info: log('info'),
      debug: log('debug'),
      trace: log('trace'),
      silent () {},
      child: (b: unknown) => { children++; return makeLogger(b, enabled) }
    }
  }
  const parent = makeLogger(null, new Set(['fatal', 'error', 'warn', 'info']))
  const factory = lazyChildLoggerFactory as unknown as (this: unknown, l: unknown, b: unknown, o: unknown, r: unknown) => any
  const lazy = factory(parent, { reqId: 'r1' }, {}, null)
  t.equal(children, 0, 'no child yet')
  t.equal(lazy.level, 'info')
  lazy.debug('not enabled')
  t.equal(children, 0, 'a disabled level does not make one')
  lazy.info({ a: 1 }, 'hello')
  lazy.error('again')
  t.equal(children, 1, 'made once, on first use')
  t.same(lines, [{ level: 'info', bindings: { reqId: 'r1' }, args: [{ a: 1 }, 'hello'] }, { level: 'error', bindings: { reqId: 'r1' }, args: ['again'] }])
  factory(parent, { reqId: 'r2' }, { level: 'debug' }, null)
  t.equal(children, 2, 'options of its own: made at once')
})

t.test('upstream sockets send the writes of one event-loop turn together', async (t) => {
  const chunks: string[] = []
  const server = createServer((s) => { s.on('data', (c: Buffer) => chunks.push(c.toString())) })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  t.teardown(() => { server.close() })
  const socket = connect((server.address() as { port: number }).port, '127.0.0.1')
  await once(socket, 'connect')
  t.teardown(() => { socket.destroy() })
  coalesceWrites(socket)
  socket.write('GET /a HTTP/1.1\r\n\r\n')
  socket.write('GET /b HTTP/1.1\r\n\r\n')
  socket.write('GET /c HTTP/1.1\r\n\r\n')
  t.ok(socket.writableLength > 0, 'held back during the turn')
  await new Promise((resolve) => setImmediate(resolve))
  t.equal(socket.writableLength, 0, 'flushed at the end of the turn')
  const until = Date.now() + 1000
  while (chunks.join('').length < 57 && Date.now() < until) await new Promise((resolve) => setTimeout(resolve, 5))
  t.same(chunks, ['GET /a HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\n\r\nGET /c HTTP/1.1\r\n\r\n'], 'one segment')
  socket.write('GET /d HTTP/1.1\r\n\r\n')
  await new Promise((resolve) => setImmediate(resolve))
  t.equal(socket.writableLength, 0, 'the next turn flushes again')
})

t.test('TtlLru: hits in the younger half are not moved, older ones are', async (t) => {
  const lru = new TtlLru<string>(4)
  for (const k of ['a', 'b', 'c', 'd']) lru.set(k, k, 1000)
  t.equal(lru.get('a', 0), 'a') // oldest half: moved to the young end
  t.equal(lru.get('d', 0), 'd') // youngest: stays
  lru.set('e', 'e', 1000)
  t.equal(lru.get('b', 0), undefined, 'b was the least recently used')
  t.equal(lru.get('a', 0), 'a')
  t.equal(lru.size, 4)
})
