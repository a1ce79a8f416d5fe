// The reference points for the push path, measured in the same run as everything else: a plain
// Fastify handler that checks the URL signature (sha1), parses the XML body and answers `success`;
// with REFERENCE_REDIS_URL it also makes one Redis round trip per push (SET NX with a TTL, through
// ioredis with auto-pipelining). No decryption, no queue, no metrics: what a push costs before our
// service does its work. Started by bench/push.ts behind the same gateway as cs-messaging.
import { hash } from 'node:crypto'
import Fastify from 'fastify'
import { Redis } from 'ioredis'
import { XMLParser } from 'fast-xml-parser'

const token = process.env.WECHAT_TOKEN ?? ''
if (token === '') throw new Error('WECHAT_TOKEN is required')
const redisUrl = process.env.REFERENCE_REDIS_URL
/** Where the reference's keys go: bench/push.ts deletes them with its own. */
const keyPrefix = process.env.REFERENCE_KEY_PREFIX ?? 'bench:ref:'
const redis = redisUrl === undefined ? null : new Redis(redisUrl, { enableAutoPipelining: true })
const parser = new XMLParser({ processEntities: false, parseTagValue: false })

const app = Fastify({ logger: false })
app.removeAllContentTypeParsers()
app.addContentTypeParser('*', { parseAs: 'string' }, (_request, body, done) => { done(null, body) })
app.post('/wechat/callback', async (request, reply) => {
  const q = request.query as Record<string, string | undefined>
  const expected = hash('sha1', [token, q.timestamp ?? '', q.nonce ?? ''].sort().join(''), 'hex')
  if (expected !== q.signature) return await reply.code(401).send('bad signature')
  const doc = parser.parse(request.body as string) as { xml?: Record<string, unknown> }
  if (doc.xml === undefined) return await reply.code(400).send('bad xml')
  if (redis !== null) await redis.set(`${keyPrefix}${q.nonce ?? ''}:${q.timestamp ?? ''}`, '1', 'EX', 60, 'NX')
  return await reply.type('text/plain').send('success')
})
app.get('/healthz', async () => ({ ok: true }))
await app.listen({ host: '127.0.0.1', port: Number(process.env.PORT ?? 0) })
process.on('SIGTERM', () => { void app.close().then(async () => { await redis?.quit(); process.exit(0) }) })
