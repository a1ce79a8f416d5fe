/**
 * Stand-in upstreams for the gateway's tests (gateway/test/fixtures/gateway.ts) and the proxy bench
 * (bench/proxy.ts, through bench/session-stand-in-server.ts): a tiny Fastify "session service" that
 * answers `POST /internal/resolve` per docs/internals.md from an in-memory credential table, serves
 * `GET /api/me` with a fixed ~300-byte profile, echoes everything else, and (optionally) records the
 * requests it received with their headers. Listens on 127.0.0.1, port 0 unless given one.
 *
 *   const upstream = await startSessionStandIn({ internalToken, credentials: [{ credential: { kind: 'bearer', token: 't' } }] })
 *   ... SESSION_URL = upstream.url ...
 *   await upstream.close()
 */
import { hash } from 'node:crypto'
import type { IncomingHttpHeaders } from 'node:http'
import Fastify, { type FastifyInstance } from 'fastify'

export type StandInCredential = { kind: 'bearer', token: string } | { kind: 'wafer1', id: string, skey: string } | { kind: 'wafer2', skey: string }

export interface StandInSession {
  credential: StandInCredential
  openid?: string
  sessionId?: string
  /** Default: an hour from now. */
  expiresAt?: Date
}

export interface RecordedRequest {
  method: string
  url: string
  headers: IncomingHttpHeaders
  body: string
}

export interface SessionStandInOptions {
  internalToken: string
  credentials?: StandInSession[]
  /** Keep every request (except the credential lookups and /healthz) with its headers. Off for benchmarks. */
  record?: boolean
  /** Extra routes (registered before the catch-all echo); `sleep` ends early when the stand-in closes. */
  routes?: (app: FastifyInstance, sleep: (ms: number) => Promise<void>) => void
  /** Default 0: any free port. */
  port?: number
}

export interface SessionStandIn {
  readonly url: string
  readonly port: number
  readonly app: FastifyInstance
  /** Requests received, oldest first (when `record`). */
  readonly requests: RecordedRequest[]
  /** Bodies of `POST /internal/resolve` calls. */
  readonly resolveCalls: unknown[]
  /** Delay for /internal/resolve answers (ms); 0 answers at once. */
  resolveDelayMs: number
  /** When set, /internal/resolve answers this status with an error body. */
  resolveFailStatus: number | null
  /** /healthz answers 503 when false. */
  healthy: boolean
  /** /healthz does not answer (until this is cleared or the stand-in closes) when true. */
  healthHangs: boolean
  addSession: (session: StandInSession) => void
  removeSession: (credential: StandInCredential) => void
  close: () => Promise<void>
}

export function standInCredentialHash (c: StandInCredential): string {
  switch (c.kind) {
    case 'bearer': return hash('sha256', `bearer:${c.token}`, 'hex')
    case 'wafer1': return hash('sha256', `wafer1:${c.id}:${c.skey}`, 'hex')
    case 'wafer2': return hash('sha256', `wafer2:${c.skey}`, 'hex')
  }
}

/** The fixed `GET /api/me` answer: about 300 bytes of JSON, like a real profile. */
export const ME_BODY = JSON.stringify({
  openid: 'oBench_0123456789abcdefghijklmn',
  unionid: 'uBench_0123456789abcdefghijklmn',
  nickname: 'Bench User',
  avatarUrl: 'https://thirdwx.qlogo.cn/mmopen/vi_32/0123456789abcdef/132',
  phone: { phoneNumber: '13800000000', purePhoneNumber: '13800000000', countryCode: '86' },
  firstSeenAt: '2024-01-01T00:00:00.000Z',
  lastSeenAt: '2024-01-02T00:00:00.000Z'
})

function credentialFromBody (body: unknown): StandInCredential | null {
  if (typeof body !== 'object' || body === null) return null
  const b = body as Record<string, unknown>
  if (typeof b.bearer === 'string') return { kind: 'bearer', token: b.bearer }
  if (typeof b.waferId === 'string' && typeof b.waferSkey === 'string') return { kind: 'wafer1', id: b.waferId, skey: b.waferSkey }
  if (typeof b.skey === 'string') return { kind: 'wafer2', skey: b.skey }
  return null
}

export async function startSessionStandIn (options: SessionStandInOptions): Promise<SessionStandIn> {
  const app = Fastify({ logger: false, keepAliveTimeout: 72_000 })
  const sessions = new Map<string, Required<StandInSession>>()
  const requests: RecordedRequest[] = []
  const resolveCalls: unknown[] = []
  const hanging: Array<() => void> = []
  /** A delay that ends early when the stand-in closes, so closing never waits for it. */
  const sleep = async (ms: number): Promise<void> => {
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms)
      hanging.push(() => { clearTimeout(timer); resolve() })
    })
  }
  let n = 0
  const addSession = (s: StandInSession): void => {
    n++
    sessions.set(standInCredentialHash(s.credential), {
      credential: s.credential,
      openid: s.openid ?? `openid-${n}`,
      sessionId: s.sessionId ?? `session-${n}`,
      expiresAt: s.expiresAt ?? new Date(Date.now() + 3600_000)
    })
  }
  for (const s of options.credentials ?? []) addSession(s)

  const standIn: SessionStandIn = {
    url: '',
    port: 0,
    app,
    requests,
    resolveCalls,
    resolveDelayMs: 0,
    resolveFailStatus: null,
    healthy: true,
    healthHangs: false,
    addSession,
    removeSession: (c) => { sessions.delete(standInCredentialHash(c)) },
    close: async () => {
      for (const release of hanging.splice(0)) release()
      await app.close()
    }
  }

  app.removeAllContentTypeParsers()
  app.addContentTypeParser('*', { parseAs: 'string' }, (_req, body, done) => { done(null, body) })

  app.get('/healthz', async (_req, reply) => {
    if (standIn.healthHangs) await new Promise<void>((resolve) => hanging.push(resolve))
    return standIn.healthy ? { status: 'ok' } : await reply.code(503).send({ status: 'down' })
  })

  app.post('/internal/resolve', async (req, reply) => {
    if (req.headers['x-internal-token'] !== options.internalToken) {
      return reply.code(401).send({ statusCode: 401, code: 'COMMON_INTERNAL_AUTH_INVALID', error: 'Unauthorized', message: 'Internal credential invalid' })
    }
    let body: unknown
    try { body = JSON.parse(String(req.body)) } catch { body = null }
    resolveCalls.push(body)
    if (standIn.resolveDelayMs > 0) await sleep(standIn.resolveDelayMs)
    if (standIn.resolveFailStatus !== null) {
      return reply.code(standIn.resolveFailStatus).send({ statusCode: standIn.resolveFailStatus, code: 'INTERNAL_ERROR', error: 'Error', message: 'stand-in failure' })
    }
    const credential = credentialFromBody(body)
    const session = credential === null ? undefined : sessions.get(standInCredentialHash(credential))
    if (session === undefined) {
      return reply.code(401).send({ statusCode: 401, code: 'SESSION_INVALID', error: 'Unauthorized', message: 'unknown session' })
    }
    if (session.expiresAt.getTime() <= Date.now()) {
      return reply.code(401).send({ statusCode: 401, code: 'SESSION_INVALID', error: 'Unauthorized', message: 'session expired' })
    }
    return {
      identity: { kind: 'user', openid: session.openid, sessionId: session.sessionId, via: session.credential.kind },
      expiresAt: session.expiresAt.toISOString()
    }
  })

  if (options.record === true) {
    app.addHook('preHandler', async (req) => {
      if (req.url === '/internal/resolve' || req.url === '/internal/agent-sessions/resolve' || req.url === '/healthz') return
      requests.push({ method: req.method, url: req.url, headers: { ...req.headers }, body: typeof req.body === 'string' ? req.body : '' })
    })
  }

  options.routes?.(app, sleep)

  app.get('/api/me', (_req, reply) => { reply.header('content-type', 'application/json; charset=utf-8').send(ME_BODY) })

  // Everything else: say what arrived.
  app.all('/*', async (req) => ({ upstream: 'session', method: req.method, url: req.url, body: req.body ?? null }))

  await app.listen({ host: '127.0.0.1', port: options.port ?? 0 })
  const address = app.server.address()
  const port = typeof address === 'object' && address !== null ? address.port : 0
  Object.assign(standIn, { url: `http://127.0.0.1:${port}`, port })
  return standIn
}

/** A request as the cs-messaging stand-in received it: the body as the exact bytes that arrived. */
export interface RawRecordedRequest {
  method: string
  url: string
  headers: IncomingHttpHeaders
  body: Buffer
  /** The client port of the connection it came on (which upstream connection the gateway used). */
  remotePort: number
}

export interface CsStandInOptions {
  /** Extra routes (registered before the catch-all). */
  routes?: (app: FastifyInstance) => void
  /** How long to take over answering a push (ms), by its body; default at once. */
  pushDelayMs?: (body: Buffer) => number
}

export interface CsStandIn {
  readonly url: string
  readonly app: FastifyInstance
  /** Every request but /healthz, oldest first, bodies as raw bytes. */
  readonly requests: RawRecordedRequest[]
  healthy: boolean
  close: () => Promise<void>
}

/**
 * A stand-in cs-messaging service for the gateway's tests: takes every body as raw bytes (up to
 * 64 MiB, so the gateway's limits are what is tested), records it, answers pushes with `success`
 * (and the body's sha256 in `x-body-sha256`; GET: the `echostr`) and echoes everything else with
 * the body's length and sha256.
 */
export async function startCsStandIn (options: CsStandInOptions = {}): Promise<CsStandIn> {
  const app = Fastify({ logger: false, keepAliveTimeout: 72_000, bodyLimit: 64 * 1024 * 1024 })
  const requests: RawRecordedRequest[] = []
  const standIn: CsStandIn = { url: '', app, requests, healthy: true, close: async () => { await app.close() } }

  app.removeAllContentTypeParsers()
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => { done(null, body) })
  app.addHook('preHandler', async (req) => {
    if (req.url === '/healthz') return
    requests.push({ method: req.method, url: req.url, headers: { ...req.headers }, body: Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0), remotePort: req.socket.remotePort ?? 0 })
  })

  app.get('/healthz', async (_req, reply) => standIn.healthy ? { status: 'ok' } : await reply.code(503).send({ status: 'down' }))
  options.routes?.(app)
  for (const path of ['/wechat/callback', '/weapp/message']) {
    app.get(path, async (req, reply) => await reply.type('text/plain; charset=utf-8').send((req.query as Record<string, string>).echostr ?? ''))
    // x-body-sha256 lets a test match each answer with the push it answers.
    app.post(path, async (req, reply) => {
      const body = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0)
      const delay = options.pushDelayMs?.(body) ?? 0
      if (delay > 0) await new Promise((resolve) => setTimeout(resolve, delay))
      return await reply.type('text/plain; charset=utf-8').header('x-body-sha256', hash('sha256', body, 'hex')).send('success')
    })
  }
  app.all('/*', async (req) => {
    const body = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0)
    return { upstream: 'cs-messaging', method: req.method, url: req.url, bodyLength: body.length, bodySha256: hash('sha256', body, 'hex') }
  })

  await app.listen({ host: '127.0.0.1', port: 0 })
  const address = app.server.address()
  const port = typeof address === 'object' && address !== null ? address.port : 0
  Object.assign(standIn, { url: `http://127.0.0.1:${port}` })
  return standIn
}
