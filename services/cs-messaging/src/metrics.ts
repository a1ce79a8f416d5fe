import { Counter, Gauge, Histogram, Registry } from 'prom-client'
import type { QueueStats } from './queue/types.js'

/** How long one queue-stats read may be reused by the gauges of one scrape. */
const STATS_REUSE_MS = 500

/**
 * The service's Prometheus metrics, in a registry of its own (one per app instance, so tests can run
 * several). Queue gauges are read from the queue at scrape time.
 */
export class CsMetrics {
  readonly registry = new Registry()
  /** Time from the request to the push answer, by outcome (queued, duplicate, probe, rejected, unavailable). */
  readonly pushAckSeconds: Histogram<'outcome'>
  /** Recorded pushes by mode (plaintext/compatible/safe), format (xml/json) and message type. */
  readonly pushes: Counter<'mode' | 'format' | 'type'>
  readonly pushesRejected: Counter<'code'>
  readonly dedupHits: Counter
  /** PUSH_DURABILITY=replicated: pushes answered 503 because no replica confirmed them in time. */
  readonly pushesNotReplicated: Counter
  readonly workerProcessed: Counter
  /** Failed attempts, by what happened next (retry, dead_letter). */
  readonly workerFailed: Counter<'next'>
  /** Acks, retries and dead letters that could not be written in time: the delivery stays pending and is taken over (processed again). */
  readonly workerUnsettled: Counter<'what'>
  readonly workerSeconds: Histogram
  readonly deadLettered: Counter
  /** Auto-replies by result: sent, window_closed, window_exhausted, not_wired, rejected, failed. */
  readonly autoReplies: Counter<'result'>
  /** access_token fetches from WeChat (stable_token or token), by result: ok, error. One per refresh, across callers. */
  readonly tokenFetches: Counter<'result'>
  /** Stale-token errcodes (40001, 40014, 42001) WeChat answered; each invalidates the token, the first per call is retried once. */
  readonly staleTokens: Counter<'errcode'>
  /** Sends (admin API and auto-replies) by outcome (sent, refused, rejected, failed, unknown) and WeChat errcode ('none' without one). */
  readonly sends: Counter<'outcome' | 'errcode'>
  /** Sends refused by our send-window check before WeChat was called, by reason: closed, exhausted. */
  readonly windowRefusals: Counter<'reason'>
  /** Typing calls by command and result (ok, or the WeChat errcode, or error). */
  readonly typing: Counter<'command' | 'result'>
  /** Temporary media calls by operation (upload, download) and result (ok, refused, or the WeChat errcode, or error). */
  readonly media: Counter<'op' | 'result'>
  #stats: { at: number, value: Promise<QueueStats> } | null = null

  constructor (readStats: () => Promise<QueueStats>) {
    const registers = [this.registry]
    const stats = async (): Promise<QueueStats> => {
      const now = Date.now()
      if (this.#stats === null || now - this.#stats.at > STATS_REUSE_MS) {
        this.#stats = { at: now, value: readStats() }
      }
      return await this.#stats.value
    }
    const gauge = (name: string, help: string, pick: (s: QueueStats) => number): void => {
      // eslint-disable-next-line no-new
      new Gauge({
        name,
        help,
        registers,
        async collect () {
          try { this.set(pick(await stats())) } catch { /* the queue is unreachable: keep the last value */ }
        }
      })
    }
    this.pushAckSeconds = new Histogram({
      name: 'cs_push_ack_seconds',
      help: 'Time to answer a WeChat push, by outcome',
      labelNames: ['outcome'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers
    })
    this.pushes = new Counter({ name: 'cs_pushes_total', help: 'Pushes recorded, by mode, format and message type', labelNames: ['mode', 'format', 'type'], registers })
    this.pushesRejected = new Counter({ name: 'cs_pushes_rejected_total', help: 'Pushes refused, by error code', labelNames: ['code'], registers })
    this.pushesNotReplicated = new Counter({ name: 'cs_push_not_replicated_total', help: 'Pushes answered 503 because no Redis replica confirmed them within PUSH_REPLICA_WAIT_MS', registers })
    this.dedupHits = new Counter({ name: 'cs_dedup_hits_total', help: 'Pushes recognised as duplicates (WeChat retries)', registers })
    this.workerProcessed = new Counter({ name: 'cs_worker_processed_total', help: 'Messages processed and acknowledged', registers })
    this.workerFailed = new Counter({ name: 'cs_worker_failed_total', help: 'Failed processing attempts, by what happens next', labelNames: ['next'], registers })
    this.workerUnsettled = new Counter({ name: 'cs_worker_unsettled_total', help: 'Deliveries whose ack, retry or dead letter could not be written; taken over after WORKER_CLAIM_IDLE_MS', labelNames: ['what'], registers })
    this.workerSeconds = new Histogram({ name: 'cs_worker_processing_seconds', help: 'Time to process one message', buckets: [0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 15], registers })
    this.deadLettered = new Counter({ name: 'cs_dead_lettered_total', help: 'Messages parked in the dead-letter list', registers })
    this.autoReplies = new Counter({ name: 'cs_auto_replies_total', help: 'Auto-replies, by result', labelNames: ['result'], registers })
    this.tokenFetches = new Counter({ name: 'cs_wechat_token_fetches_total', help: 'access_token fetches from WeChat, by result', labelNames: ['result'], registers })
    this.staleTokens = new Counter({ name: 'cs_wechat_stale_token_total', help: 'Stale-token errcodes (40001/40014/42001) answered by WeChat', labelNames: ['errcode'], registers })
    this.sends = new Counter({ name: 'cs_sends_total', help: 'Customer-service sends (admin API and auto-replies), by outcome and WeChat errcode', labelNames: ['outcome', 'errcode'], registers })
    this.windowRefusals = new Counter({ name: 'cs_send_window_refusals_total', help: 'Sends refused by the send-window check before calling WeChat, by reason', labelNames: ['reason'], registers })
    this.typing = new Counter({ name: 'cs_typing_total', help: 'Typing indicator calls, by command and result', labelNames: ['command', 'result'], registers })
    this.media = new Counter({ name: 'cs_media_total', help: 'Temporary media uploads and downloads, by result', labelNames: ['op', 'result'], registers })
    gauge('cs_queue_length', 'Messages recorded and not yet processed', (s) => s.length)
    gauge('cs_queue_pending', 'Messages handed to a worker and not yet acknowledged', (s) => s.pending)
    gauge('cs_queue_delayed', 'Messages waiting for a retry', (s) => s.delayed)
    gauge('cs_queue_lag_seconds', 'Age of the oldest unprocessed message', (s) => s.oldestAgeMs / 1000)
    gauge('cs_dead_letters', 'Messages in the dead-letter list', (s) => s.deadLetters)
  }
}
