// The closed-loop HTTP/1.1 loader of `pnpm bench:peers`: like raw-load.ts (each connection sends its next
// pre-built request, reads the answer, sends again), but over TLS too (nginx's https port), with chunked
// answers read (Express's `res.writeHead(200); res.end(...)` has no Content-Length), and either for a time
// or for a fixed number of requests (logins: one code each).
import { connect as tcpConnect, type Socket } from 'node:net'
import { connect as tlsConnect } from 'node:tls'

export interface PeerLoadOptions {
  /** http://host:port or https://host:port (HTTP/1.1 over TLS, no ALPN: what a wx.request-style client sends). */
  origin: string
  /** CA certificate (PEM) for https. */
  ca?: Buffer
  connections: number
  /** Stop sending after this long, in seconds … */
  durationSec?: number
  /** … or after this many requests (next() may also return null to stop). */
  total?: number
  /** The complete bytes of the next request; `conn` is the connection's number. */
  next: (conn: number) => Buffer | null
  onResponse?: (status: number, body: string, conn: number) => void
}

export interface PeerLoadResult {
  requests: number
  reqPerSec: number
  elapsedSec: number
  /** Latency percentiles, ms. */
  p50: number
  p99: number
  non2xx: number
  errors: number
}

const HEADER_END = Buffer.from('\r\n\r\n')
const CRLF = Buffer.from('\r\n')

/**
 * One answer parsed off the front of `buf`: its status, body, length in bytes and whether the server
 * closes the connection after it (`Connection: close`); null while incomplete.
 */
export function parseResponse (buf: Buffer): { status: number, body: string, length: number, close: boolean } | null {
  const end = buf.indexOf(HEADER_END)
  if (end < 0) return null
  const head = buf.toString('latin1', 0, end)
  const status = Number(head.slice(9, 12))
  const close = /\r\nconnection: *close/i.test(head)
  if (/\r\ntransfer-encoding: *chunked/i.test(head)) {
    const parts: Buffer[] = []
    let at = end + 4
    for (;;) {
      const lineEnd = buf.indexOf(CRLF, at)
      if (lineEnd < 0) return null
      const size = parseInt(buf.toString('latin1', at, lineEnd), 16)
      if (Number.isNaN(size)) throw new Error(`bad chunk size in an answer: ${buf.toString('latin1', at, lineEnd)}`)
      const dataEnd = lineEnd + 2 + size
      if (buf.length < dataEnd + 2) return null
      if (size === 0) return { status, body: Buffer.concat(parts).toString('utf8'), length: dataEnd + 2, close }
      parts.push(buf.subarray(lineEnd + 2, dataEnd))
      at = dataEnd + 2
    }
  }
  const length = Number(/\r\ncontent-length: *(\d+)/i.exec(head)?.[1] ?? 0)
  const total = end + 4 + length
  if (buf.length < total) return null
  return { status, body: buf.toString('utf8', end + 4, total), length: total, close }
}

export async function peerLoad (options: PeerLoadOptions): Promise<PeerLoadResult> {
  const url = new URL(options.origin)
  const tls = url.protocol === 'https:'
  const port = Number(url.port)
  const latencies: number[] = []
  let non2xx = 0
  let errors = 0
  let sent = 0
  let stopping = false
  const started = performance.now()
  const deadline = options.durationSec === undefined ? Infinity : started + options.durationSec * 1000
  const total = options.total ?? Infinity

  /** One socket's life; resolves true when the server closed it while the load goes on (nginx closes a
   *  keep-alive connection after keepalive_requests, 1,000 by default): the connection opens again. */
  const runSocket = async (conn: number): Promise<boolean> => await new Promise<boolean>((resolve) => {
    const socket: Socket = tls
      ? tlsConnect({ host: url.hostname, port, ca: options.ca })
      : tcpConnect(port, url.hostname)
    socket.setNoDelay(true)
    let buffered: Buffer = Buffer.alloc(0)
    let sentAt = -1
    let ended = false

    const send = (): void => {
      const bytes = stopping || sent >= total || performance.now() >= deadline ? null : options.next(conn)
      if (bytes === null) { stopping = true; ended = true; socket.end(); return }
      sent++
      sentAt = performance.now()
      socket.write(bytes)
    }
    socket.on(tls ? 'secureConnect' : 'connect', send)
    socket.on('data', (chunk: Buffer) => {
      buffered = buffered.length === 0 ? chunk : Buffer.concat([buffered, chunk])
      for (;;) {
        if (sentAt < 0) return
        const answer = parseResponse(buffered)
        if (answer === null) return
        buffered = buffered.subarray(answer.length)
        latencies.push(performance.now() - sentAt)
        sentAt = -1
        if (answer.status < 200 || answer.status > 299) non2xx++
        options.onResponse?.(answer.status, answer.body, conn)
        // The server closes after this answer: the next request goes on a new connection.
        if (answer.close) { socket.end(); return }
        send()
      }
    })
    socket.on('error', () => { errors++ })
    socket.on('close', () => {
      // A request the server never answered: an error, and not counted against `total`.
      if (sentAt >= 0) { errors++; sent-- }
      resolve(!ended && !stopping)
    })
  })
  const runConnection = async (conn: number): Promise<void> => {
    for (let opened = 0; await runSocket(conn); opened++) {
      if (opened > 100_000) throw new Error('the server keeps closing the connections')
    }
  }

  await Promise.all(Array.from({ length: options.connections }, async (_, i) => { await runConnection(i) }))
  const elapsedSec = (performance.now() - started) / 1000
  latencies.sort((a, b) => a - b)
  const at = (q: number): number => latencies.length === 0 ? Number.NaN : Math.round(latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))]! * 10) / 10
  return { requests: latencies.length, reqPerSec: latencies.length / elapsedSec, elapsedSec, p50: at(0.5), p99: at(0.99), non2xx, errors }
}

/** The bytes of one HTTP/1.1 keep-alive request with these headers (and body). */
export function httpRequest (method: string, path: string, host: string, headers: Record<string, string> = {}, body?: Buffer): Buffer {
  let head = `${method} ${path} HTTP/1.1\r\nHost: ${host}\r\n`
  for (const [k, v] of Object.entries(headers)) head += `${k}: ${v}\r\n`
  if (body !== undefined) head += `Content-Length: ${body.length}\r\n`
  head += '\r\n'
  return body === undefined ? Buffer.from(head, 'latin1') : Buffer.concat([Buffer.from(head, 'latin1'), body])
}
