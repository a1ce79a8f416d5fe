// `pnpm bench:console`, part 2: the console's list request (`GET /api/console/conversations`, first page) with
// a full store. cs-messaging runs in this process (its sources, as the tests build it) so its stores can be
// filled fast through the repositories' own APIs: `messagesRepository.insertInbound` for every message,
// `conversationsRepository.recordInbound` for each conversation's latest one, then claims and resolves so
// each filter has something to find. Embedded (memory) stores by default; MongoDB when MONGO_URL is set (a
// database of the run's own, dropped at the end). The requests go over HTTP to 127.0.0.1 one at a time, as
// the gateway forwards them (internal token + agent identity); "server time" is Fastify's `reply.elapsedTime`
// read in onResponse (request received → response written), besides the round trip the client saw.
import { randomBytes } from 'node:crypto'
import { createRequire } from 'node:module'
import Fastify, { type FastifyInstance } from 'fastify'
import type { AgentIdentity } from '@weapp/common'
import { internalHeaders, listenLocal } from '@weapp/test-kit'
import csApp, { csServerOptions } from '../../services/cs-messaging/src/app.js'
import { loadCsConfig } from '../../services/cs-messaging/src/config.js'
import { summarize, type LatencySummary } from './console-stats.js'

export interface ListBenchOptions {
  conversations: number
  messages: number
  /** Measured requests per filter (after WARMUP_REQUESTS). */
  requests: number
  mongoUrl?: string | undefined
}

export interface ListFilterResult {
  filter: string
  /** Conversations the first page held. */
  items: number
  server: LatencySummary
  roundTrip: LatencySummary
}

export interface ListBenchResult {
  store: string
  filledIn: string
  fillSec: number
  results: ListFilterResult[]
}

const WARMUP_REQUESTS = 50
/** Repository calls in flight at once while filling (MongoDB round trips overlap; memory does not care). */
const FILL_CONCURRENCY = 200
const FILTERS = [
  { view: 'all', status: 'open' },
  { view: 'mine', status: 'open' },
  { view: 'unassigned', status: 'open' }
] as const

const DAY_MS = 86_400_000

function agentIdentity (id: string): AgentIdentity {
  return {
    kind: 'agent',
    agentId: `agent-${id}`,
    login: id,
    displayName: `Bench ${id}`,
    role: 'agent',
    sessionId: `session-${id}`,
    absoluteExpiresAt: new Date(Date.now() + 3_600_000).toISOString()
  }
}

/** Runs `count` calls of `task`, FILL_CONCURRENCY at a time. */
async function inBatches (count: number, task: (i: number) => Promise<unknown>): Promise<void> {
  for (let from = 0; from < count; from += FILL_CONCURRENCY) {
    const batch: Array<Promise<unknown>> = []
    for (let i = from; i < Math.min(count, from + FILL_CONCURRENCY); i++) batch.push(task(i))
    await Promise.all(batch)
  }
}

/**
 * The store as a busy app's would be: `messages` spread evenly over `conversations` users, over the last 30
 * days; a third of the conversations claimed by the measuring agent, a third by another, a tenth resolved.
 */
async function fill (app: FastifyInstance, opts: ListBenchOptions, me: AgentIdentity, other: AgentIdentity): Promise<void> {
  const perUser = Math.max(1, Math.floor(opts.messages / opts.conversations))
  const now = Date.now()
  const openidOf = (u: number): string => `oListBench${String(u).padStart(8, '0')}`
  const createdAtOf = (u: number, k: number): Date => new Date(now - 30 * DAY_MS + Math.floor((k * opts.conversations + u) * (30 * DAY_MS) / (perUser * opts.conversations)))
  const messageOf = (u: number, k: number): { key: string, openid: string, createdAt: Date, message: { ToUserName: string, FromUserName: string, CreateTime: number, MsgType: 'text', Content: string, MsgId: string } } => {
    const createdAt = createdAtOf(u, k)
    const msgId = String(8_000_000_000_000_000_000n + BigInt(u * perUser + k))
    return {
      key: `msg:${msgId}`,
      openid: openidOf(u),
      createdAt,
      message: { ToUserName: 'gh_listbench', FromUserName: openidOf(u), CreateTime: Math.floor(createdAt.getTime() / 1000), MsgType: 'text', Content: `message ${k} of user ${u}`, MsgId: msgId }
    }
  }
  const total = perUser * opts.conversations
  await inBatches(total, async (i) => {
    const u = i % opts.conversations
    const k = Math.floor(i / opts.conversations)
    const m = messageOf(u, k)
    await app.messagesRepository.insertInbound({ key: m.key, openid: m.openid, msgType: 'text', message: m.message, createdAt: m.createdAt, receivedAt: m.createdAt, storedAt: m.createdAt })
  })
  // In a scattered order (a stride coprime with the count): a store's users are not held sorted by lastAt.
  const stride = strideFor(opts.conversations)
  await inBatches(opts.conversations, async (i) => {
    const u = (i * stride) % opts.conversations
    const m = messageOf(u, perUser - 1)
    await app.conversationsRepository.recordInbound({
      openid: m.openid, key: m.key, at: m.createdAt, interaction: true, window: null, last: { direction: 'in', msgType: 'text', preview: m.message.Content }
    })
    if (u % 3 === 0) await app.conversationsRepository.claim(m.openid, me, { force: false })
    if (u % 3 === 1) await app.conversationsRepository.claim(m.openid, other, { force: false })
    if (u % 10 === 0) await app.conversationsRepository.setStatus(m.openid, 'resolved')
  })
}

/** A step through 0..n-1 that visits every number once and jumps far: a prime not dividing n. */
function strideFor (n: number): number {
  for (const p of [7919, 7907, 7901, 104_729]) if (n % p !== 0) return p % n === 0 ? 1 : p
  return 1
}

/** Drops the run's MongoDB database, with the driver cs-messaging itself depends on. */
async function dropDatabase (mongoUrl: string, db: string): Promise<void> {
  const require = createRequire(new URL('../../services/cs-messaging/package.json', import.meta.url))
  const { MongoClient } = require('mongodb') as { MongoClient: new (url: string) => { db: (name: string) => { dropDatabase: () => Promise<unknown> }, close: () => Promise<void> } }
  const client = new MongoClient(mongoUrl)
  try {
    await client.db(db).dropDatabase()
  } finally {
    await client.close()
  }
}

export async function benchList (opts: ListBenchOptions): Promise<ListBenchResult> {
  const internalToken = randomBytes(32).toString('hex')
  const mongoDb = `bench_console_${randomBytes(4).toString('hex')}`
  const config = loadCsConfig({
    INTERNAL_TOKEN: internalToken,
    APP_ID: `wx${randomBytes(8).toString('hex')}`,
    WECHAT_TOKEN: randomBytes(16).toString('hex'),
    LOG_LEVEL: 'warn',
    WORKER_ENABLED: 'false',
    ...(opts.mongoUrl !== undefined ? { MONGO_URL: opts.mongoUrl, MONGO_DB: mongoDb } : {})
  })
  const app = Fastify(csServerOptions(config))
  const serverMs: number[] = []
  app.addHook('onResponse', async (request, reply) => {
    if (request.url.startsWith('/api/console/conversations')) serverMs.push(reply.elapsedTime)
  })
  // csApp is meant to be registered unencapsulated (its error handler covers everything): called on the root.
  await csApp(app, { config })
  try {
    const base = await listenLocal(app)
    const me = agentIdentity('me')
    const other = agentIdentity('other')
    const fillStarted = performance.now()
    await fill(app, opts, me, other)
    const fillSec = (performance.now() - fillStarted) / 1000
    const headers = internalHeaders(internalToken, me)

    const results: ListFilterResult[] = []
    for (const filter of FILTERS) {
      const url = `${base}/api/console/conversations?view=${filter.view}&status=${filter.status}`
      let items = 0
      const roundTrip: number[] = []
      for (let i = 0; i < WARMUP_REQUESTS + opts.requests; i++) {
        if (i === WARMUP_REQUESTS) serverMs.length = 0
        const started = performance.now()
        const res = await fetch(url, { headers })
        const body = await res.json() as { items: unknown[] }
        if (res.status !== 200) throw new Error(`${url}: ${res.status} ${JSON.stringify(body)}`)
        if (i >= WARMUP_REQUESTS) roundTrip.push(performance.now() - started)
        items = body.items.length
      }
      results.push({ filter: `${filter.view} × ${filter.status}`, items, server: summarize(serverMs), roundTrip: summarize(roundTrip) })
    }
    const store = opts.mongoUrl !== undefined ? `MongoDB (database ${mongoDb}, dropped after)` : 'embedded (memory)'
    const perUser = Math.max(1, Math.floor(opts.messages / opts.conversations))
    return {
      store,
      filledIn: `${perUser * opts.conversations} messages via messagesRepository.insertInbound and ${opts.conversations} conversations via conversationsRepository.recordInbound (each user's latest message), claim (2/3) and setStatus resolved (1/10), in a scattered order, in process, ${FILL_CONCURRENCY} calls at a time`,
      fillSec,
      results
    }
  } finally {
    await app.close()
    if (opts.mongoUrl !== undefined) await dropDatabase(opts.mongoUrl, mongoDb).catch((err: Error) => { console.error(`could not drop ${mongoDb}: ${err.message}`) })
  }
}
