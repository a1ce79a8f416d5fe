// A closed-loop HTTP/1.1 load generator for pre-built requests: each connection writes the next request's
// bytes (built before the phase), reads one response (status line, Content-Length body), then sends the
// next. It does almost nothing per request, so on a 2-core machine it takes little CPU from the servers,
// and the same for every scenario: autocannon spends about three times as much on a push built per request
// (setupRequest) as on a fixed hello request, which skews a ratio between the two.
import { connect, type Socket } from 'node:net'

export interface RawLoadOptions {
  host: string
  port: number
  connections: number
  durationSec: number
  /** The next request's complete bytes (request line, headers, body); its number is passed to onResponse. */
  next: () => { n: number, bytes: Buffer }
  onResponse?: (n: number, status: number, body: string) => void
}

export interface RawLoadResult {
  requests: number
  reqPerSec: number
  /** Latency percentiles, ms. */
  p50: number
  p99: number
  non2xx: number
  errors: number
}

const HEADER_END = Buffer.from('\r\n\r\n')

/** Runs the load for durationSec, then lets each connection finish its request in flight. */
export async function rawLoad (options: RawLoadOptions): Promise<RawLoadResult> {
  const latencies: number[] = []
  let non2xx = 0
  let errors = 0
  let stopping = false
  const started = performance.now()
  const deadline = started + options.durationSec * 1000

  const runConnection = async (): Promise<void> => await new Promise<void>((resolve) => {
    const socket: Socket = connect(options.port, options.host)
    socket.setNoDelay(true)
    let buffered: Buffer = Buffer.alloc(0)
    let current: { n: number, sentAt: number } | null = null

    const send = (): void => {
      if (stopping || performance.now() >= deadline) { stopping = true; socket.end(); return }
      const { n, bytes } = options.next()
      current = { n, sentAt: performance.now() }
      socket.write(bytes)
    }
    socket.on('connect', send)
    socket.on('data', (chunk: Buffer) => {
      buffered = buffered.length === 0 ? chunk : Buffer.concat([buffered, chunk])
      for (;;) {
        const end = buffered.indexOf(HEADER_END)
        if (end < 0 || current === null) return
        const head = buffered.toString('latin1', 0, end)
        const length = Number(/\r\ncontent-length: *(\d+)/i.exec(head)?.[1] ?? 0)
        const total = end + 4 + length
        if (buffered.length < total) return
        const status = Number(head.slice(9, 12))
        const body = buffered.toString('utf8', end + 4, total)
        buffered = buffered.subarray(total)
        latencies.push(performance.now() - current.sentAt)
        if (status < 200 || status > 299) non2xx++
        options.onResponse?.(current.n, status, body)
        current = null
        send()
      }
    })
    socket.on('error', () => { errors++ })
    socket.on('close', () => { resolve() })
  })

  await Promise.all(Array.from({ length: options.connections }, runConnection))
  const elapsedSec = (performance.now() - started) / 1000
  latencies.sort((a, b) => a - b)
  const at = (q: number): number => latencies.length === 0 ? Number.NaN : Math.round(latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))]! * 10) / 10
  return { requests: latencies.length, reqPerSec: latencies.length / elapsedSec, p50: at(0.5), p99: at(0.99), non2xx, errors }
}

/** The bytes of one HTTP/1.1 request (keep-alive). */
export function requestBytes (method: string, path: string, host: string, body?: Buffer, contentType = 'text/xml'): Buffer {
  const head = `${method} ${path} HTTP/1.1\r\nHost: ${host}\r\n` +
    (body === undefined ? '' : `Content-Type: ${contentType}\r\nContent-Length: ${body.length}\r\n`) + '\r\n'
  return body === undefined ? Buffer.from(head, 'latin1') : Buffer.concat([Buffer.from(head, 'latin1'), body])
}
