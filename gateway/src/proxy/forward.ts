import { Readable } from 'node:stream'
import type { FastifyReply, FastifyRequest } from 'fastify'
import type { Dispatcher, Pool } from 'undici'
import { BadPathError } from '../errors.js'
import type { GatewayMetrics } from '../metrics.js'
import { STRIP_NOTHING, copyResponseHeaders, upstreamRequestHeaders, type StrippedCredentials } from './headers.js'
import { isForwardablePath } from './path.js'
import { classifyUpstreamError, isRetryable, upstreamError } from './upstream-errors.js'

/** One service behind the gateway, with the keep-alive pool every request to it shares. */
export interface Upstream {
  readonly name: string
  readonly origin: string
  readonly pool: Pool
}

/** Where a route's requests go. */
export interface RouteTarget {
  readonly upstream: Upstream
  /** GET/HEAD may be pipelined behind other requests on an upstream connection (fast routes only). */
  readonly pipeline: boolean
  /** Requests of every method may be repeated (pipelined with `pipeline`, retried once like GETs). */
  readonly idempotent?: boolean
  /** Credential headers not forwarded (admin keys and the console cookie stop at the gateway); default none. */
  readonly strip?: StrippedCredentials
}

export interface ForwardSettings {
  readonly internalToken: string
  readonly trustProxy: boolean
  readonly metrics: GatewayMetrics
}

/**
 * Responses up to this size (by their Content-Length) are collected and written to the client in
 * one go: headers and body leave in a single socket write. Larger ones, and bodies of unknown
 * length (chunked, event streams), are streamed through with backpressure.
 */
export const BUFFERED_RESPONSE_LIMIT = 256 * 1024

const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE'])

/** The upstream response body when it is streamed; destroying it (client gone) aborts the upstream request. */
class UpstreamBody extends Readable {
  readonly #controller: Dispatcher.DispatchController
  #ended = false

  constructor (controller: Dispatcher.DispatchController) {
    super()
    this.#controller = controller
  }

  override _read (): void {
    this.#controller.resume()
  }

  /** The upstream response is complete. */
  finish (): void {
    this.#ended = true
    this.push(null)
  }

  override _destroy (err: Error | null, callback: (error?: Error | null) => void): void {
    if (!this.#ended) this.#controller.abort(err ?? new Error('client closed the connection'))
    callback(err)
  }
}

/**
 * Forwards one request with undici's dispatch API: no per-request promise, stream or body object
 * when the response is small, which is most of what a mini-program backend answers.
 */
class ForwardHandler implements Dispatcher.DispatchHandler {
  readonly #reply: FastifyReply
  readonly #upstream: Upstream
  readonly #settings: ForwardSettings
  readonly #options: Dispatcher.DispatchOptions
  readonly #onSuccess: (() => void) | undefined
  #status = 0
  #headers: Record<string, string | string[] | undefined> | null = null
  #chunks: Buffer[] = []
  #size = 0
  #stream: UpstreamBody | null = null
  #retried = false

  constructor (reply: FastifyReply, upstream: Upstream, settings: ForwardSettings, options: Dispatcher.DispatchOptions, onSuccess: (() => void) | undefined) {
    this.#reply = reply
    this.#upstream = upstream
    this.#settings = settings
    this.#options = options
    this.#onSuccess = onSuccess
  }

  onRequestStart (): void {}

  onResponseStart (controller: Dispatcher.DispatchController, statusCode: number, headers: Record<string, string | string[] | undefined>): void {
    if (statusCode < 200) return // 1xx: the final response follows
    this.#status = statusCode
    this.#headers = headers
    if (statusCode < 300 && this.#onSuccess !== undefined) this.#onSuccess()
    const length = headers['content-length']
    const buffered = statusCode === 204 || statusCode === 304 || this.#options.method === 'HEAD' ||
      (typeof length === 'string' && Number(length) <= BUFFERED_RESPONSE_LIMIT)
    if (!buffered) this.#startStream(controller)
  }

  onResponseData (controller: Dispatcher.DispatchController, chunk: Buffer): void {
    const stream = this.#stream
    if (stream !== null) {
      if (!stream.push(chunk)) controller.pause()
      return
    }
    this.#chunks.push(chunk)
    this.#size += chunk.length
  }

  onResponseEnd (): void {
    if (this.#stream !== null) {
      this.#stream.finish()
      return
    }
    const reply = this.#reply
    if (reply.sent) return
    if (!this.#applyStatus()) return
    copyResponseHeaders(reply, this.#headers!)
    const chunks = this.#chunks
    reply.send(chunks.length === 0 ? undefined : chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, this.#size))
  }

  onResponseError (_controller: Dispatcher.DispatchController, err: Error): void {
    const stream = this.#stream
    const kind = classifyUpstreamError(err)
    if (stream !== null) {
      // Headers are out: all that is left is to cut the response short.
      if (!stream.destroyed) {
        this.#settings.metrics.upstreamError(this.#upstream.name, kind)
        stream.destroy(err)
      }
      return
    }
    if (this.#reply.sent) return
    if (this.#status === 0 && !this.#retried && (this.#options.idempotent === true || IDEMPOTENT.has(this.#options.method)) && isRetryable(err)) {
      // A kept-alive connection the upstream had just closed: try once more on a fresh one.
      this.#retried = true
      this.#upstream.pool.dispatch(this.#options, this)
      return
    }
    this.#settings.metrics.upstreamError(this.#upstream.name, kind)
    this.#reply.send(upstreamError(kind, this.#upstream.name))
  }

  #applyStatus (): boolean {
    try {
      this.#reply.code(this.#status)
      return true
    } catch {
      this.#settings.metrics.upstreamError(this.#upstream.name, 'bad_response')
      this.#reply.send(upstreamError('bad_response', this.#upstream.name))
      return false
    }
  }

  #startStream (controller: Dispatcher.DispatchController): void {
    const reply = this.#reply
    if (reply.sent || !this.#applyStatus()) {
      controller.abort(new Error('response no longer wanted'))
      return
    }
    copyResponseHeaders(reply, this.#headers!)
    const stream = new UpstreamBody(controller)
    this.#stream = stream
    reply.send(stream)
  }
}

/**
 * Sends the request to the upstream and the upstream's answer to the client. The request body is
 * the buffer the content-type parser collected (bounded by the route's body limit), sent byte for
 * byte whatever its content type; the request target (path and query) is sent as the client wrote
 * it. Upstream failures become GATEWAY_UPSTREAM_* errors; `onSuccess` runs when the upstream
 * answers 2xx, before the client hears.
 */
export function forward (
  request: FastifyRequest,
  reply: FastifyReply,
  target: RouteTarget,
  settings: ForwardSettings,
  identityHeader: string | null,
  onSuccess?: () => void
): void {
  const url = request.url
  if (!isForwardablePath(url)) {
    reply.send(new BadPathError())
    return
  }
  const method = request.method
  const body = request.body
  const options: Dispatcher.DispatchOptions = {
    path: url,
    method: method as Dispatcher.HttpMethod,
    headers: upstreamRequestHeaders(request, settings.internalToken, identityHeader, settings.trustProxy, target.strip ?? STRIP_NOTHING),
    body: Buffer.isBuffer(body) ? body : null,
    // blocking: nothing is pipelined behind this request until its response headers are in.
    blocking: !(target.pipeline && (method === 'GET' || method === 'HEAD' || target.idempotent === true)),
    // Otherwise undici sends a POST only on an idle connection (its default: only GET/HEAD may queue).
    ...(target.idempotent === true ? { idempotent: true } : {})
  }
  const upstream = target.upstream
  upstream.pool.dispatch(options, new ForwardHandler(reply, upstream, settings, options, onSuccess))
}
