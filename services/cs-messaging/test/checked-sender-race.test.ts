import t from 'tap'
import { Writable } from 'node:stream'
import Fastify, { type FastifyBaseLogger } from 'fastify'
import type { OutboundMessage } from '@weapp/common'
import { CheckedSender } from '../src/outbound/checked-sender.js'
import type { OutboundSender } from '../src/outbound/sender.js'
import { MemoryMessagesRepository } from '../src/repositories/memory.js'
import { MemorySendWindows, WINDOW_RULES } from '../src/windows/send-windows.js'
import { CsMetrics } from '../src/metrics.js'

// Two attempts of one retried send at once (a stale autoReply claim taken over while the first attempt
// still ran): both look for the record `out:auto:<key>`, find none, and insert; the second insert meets the
// first's record (MongoDB: duplicate key 11000; memory: the same MessageKeyExistsError).

/** WeChat's message/custom/send as far as this flow needs: every call that reached it, in order. */
class RecordingTransport implements OutboundSender {
  readonly sent: Array<{ openid: string, message: OutboundMessage }> = []
  async send (openid: string, message: OutboundMessage): Promise<void> {
    this.sent.push({ openid, message })
  }
}

const at = new Date(Date.UTC(2025, 0, 1))
/** Fastify's logger, its error lines kept: a write the flow could not make is logged, not thrown. */
function errorLog (): { log: FastifyBaseLogger, errors: string[] } {
  const errors: string[] = []
  const stream = new Writable({ write (chunk, _enc, done) { errors.push(String(chunk)); done() } })
  return { log: Fastify({ logger: { level: 'error', stream } }).log, errors }
}

async function race (windowKind: 'message' | 'session', opened: boolean): Promise<{ results: Array<{ outcome: string }>, messages: MemoryMessagesRepository, windows: MemorySendWindows, transport: RecordingTransport, errors: string[] }> {
  const { log, errors } = errorLog()
  const messages = new MemoryMessagesRepository()
  const windows = new MemorySendWindows()
  if (opened) await windows.open('o1', windowKind, at)
  const transport = new RecordingTransport()
  const sender = new CheckedSender({ transport, windows, messages, metrics: new CsMetrics(async () => { throw new Error('no queue: never scraped here') }), now: () => at, log })
  const send = async (): Promise<{ outcome: string }> => await sender.send({
    key: 'out:auto:msg:1', openid: 'o1', message: { msgtype: 'text', text: { content: 'welcome' } }, sentBy: 'auto:welcome', force: false, retried: true
  })
  const results = await Promise.all([send(), send()])
  return { results, messages, windows, transport, errors }
}

t.test('the second insert of a retried send is "already recorded": no error escapes, one record, each attempt counted once', async (t) => {
  const { results, messages, windows, transport } = await race('message', true)
  t.same(results.map((r) => r.outcome), ['sent', 'sent'], 'neither attempt throws (before: the duplicate key escaped and the step was retried)')
  t.equal(messages.count('out'), 1, 'one record of the send')
  t.equal((await messages.findOutbound('out:auto:msg:1'))?.outcome, 'sent')
  t.equal(transport.sent.length, 2, 'each attempt sent (the takeover is what the stale claim is for)')
  // Each attempt took one window message for its own send: none given back, none taken twice.
  t.equal((await windows.peek('o1', at))?.remaining, WINDOW_RULES.message.quota - 2)
})

t.test('a retried refusal meeting the other attempt\'s record completes it instead of failing', async (t) => {
  const { results, messages, windows, transport, errors } = await race('session', false)
  t.same(errors, [], 'no "refused send not recorded" (before: the second insert failed and was logged)')
  t.same(results.map((r) => r.outcome), ['refused', 'refused'])
  t.equal(messages.count('out'), 1)
  const record = await messages.findOutbound('out:auto:msg:1')
  t.equal(record?.outcome, 'refused')
  t.equal(record?.errorCode, 'CS_SEND_WINDOW_CLOSED')
  t.equal(transport.sent.length, 0, 'nothing reached WeChat')
  t.equal(await windows.peek('o1', at), null, 'no window was opened or taken')
})

t.test('a send that is not a retry still fails on a taken key, and gives its window message back', async (t) => {
  const messages = new MemoryMessagesRepository()
  const windows = new MemorySendWindows()
  await windows.open('o1', 'message', at)
  const transport = new RecordingTransport()
  const sender = new CheckedSender({ transport, windows, messages, metrics: new CsMetrics(async () => { throw new Error('no queue: never scraped here') }), now: () => at, log: errorLog().log })
  const request = { key: 'out:1', openid: 'o1', message: { msgtype: 'text', text: { content: 'x' } } as OutboundMessage, sentBy: 'ops', force: false, retried: false }
  t.equal((await sender.send(request)).outcome, 'sent')
  await t.rejects(sender.send(request), { name: 'MessageKeyExistsError' })
  t.equal(transport.sent.length, 1)
  t.equal((await windows.peek('o1', at))?.remaining, WINDOW_RULES.message.quota - 1, 'the refused attempt gave its message back')
})
