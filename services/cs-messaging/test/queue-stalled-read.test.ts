// The worker's blocking read against a Redis that stops answering without closing the connection (SIGSTOP:
// a frozen or partitioned primary; no RST, so TCP itself would notice only after hours). The read must end
// BLOCKING_READ_GRACE_MS past its BLOCK with an error, and the next read, once Redis answers again, must work
// on a new connection: the worker is not stuck for good.
import { spawnSync } from 'node:child_process'
import t from 'tap'
import { createRedis } from '@weapp/common'
import { startLocalRedis } from '../../../scripts/redis-server.js'
import { pauseRedis } from './fixtures/redis-pause.js'
import { BLOCKING_READ_GRACE_MS, RedisInboundQueue } from '../src/queue/redis.js'
import type { InboundMessage } from '@weapp/common'

const message: InboundMessage = { ToUserName: 'gh_0123456789ab', FromUserName: 'oStalled', CreateTime: 1_700_000_000, MsgType: 'text', Content: 'hi', MsgId: '1' }

const skip = spawnSync('redis-server', ['--version'], { stdio: 'ignore' }).status === 0 ? false : 'redis-server is not installed'

t.test('a blocking read on a connection that stopped answering ends, and the next read works', { skip }, async (t) => {
  const server = await startLocalRedis()
  if (server === null) throw new Error('redis-server did not start')
  t.teardown(server.stop)
  const redis = createRedis(server.url, {}, { log: { info: () => {}, warn: () => {} } })
  t.teardown(() => { redis.disconnect() })
  const queue = new RedisInboundQueue({ redis, appId: 'wxd0000000000000b1', dedupTtlSec: 3600 })
  t.teardown(async () => { await queue.close() })
  t.same(await queue.read('worker-a', 10, 50), [], 'an empty read (the group made, the blocking connection open)')

  const address = new URL(server.url)
  const resume = await pauseRedis(t, { host: address.hostname, port: Number(address.port) })
  const blockMs = 200
  const started = Date.now()
  await t.rejects(queue.read('worker-a', 10, blockMs), /no answer to XREADGROUP within \d+ ms/, 'the read ends with an error')
  const tookMs = Date.now() - started
  t.ok(tookMs >= blockMs + BLOCKING_READ_GRACE_MS - 50, `not before its limit (${tookMs} ms)`)

  resume()
  t.equal(await queue.enqueueOnce('msg:1', message, new Date()), 'queued')
  const deliveries = await queue.read('worker-a', 10, 1000)
  t.same(deliveries.map((d) => d.key), ['msg:1'], 'the next read, on a new connection, gets the message')
})
