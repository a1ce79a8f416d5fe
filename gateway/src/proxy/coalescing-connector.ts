import type { Socket } from 'node:net'
import { buildConnector } from 'undici'

/**
 * Makes every write an upstream socket receives during one turn of the event loop leave in a
 * single syscall. Undici writes each request with its own `socket.write`; under load the gateway
 * puts several pipelined requests on the same connection in one turn (one per client socket that
 * was readable), and on loopback or a LAN each write costs a full trip through the TCP stack plus a
 * wake-up of the receiving process. The socket is corked at the first write of a turn and uncorked
 * in that turn's check phase (setImmediate), after every I/O callback of the turn has run: no
 * timer, no added latency beyond the current turn.
 */
export function coalesceWrites (socket: Socket): void {
  let corked = false
  const flush = (): void => {
    corked = false
    socket.uncork()
  }
  const write = socket.write
  socket.write = function coalescedWrite (this: Socket, ...args: Parameters<Socket['write']>): boolean {
    if (!corked) {
      corked = true
      socket.cork()
      setImmediate(flush)
    }
    return write.apply(this, args)
  } as Socket['write']
}

/**
 * PERFORMANCE DEVICE: the coalescing connector, under every upstream pool (plugins/upstreams.ts).
 * Gain measured 2026-12-03 with `pnpm bench:proxy` (mode gateway:no-coalescing, `--variant
 * no-coalescing:UPSTREAM_COALESCE_WRITES=0`; load average 9–22, other work on the machine): without it the
 * gateway spent 1.30× its CPU per request at full load (median of 5 rounds, rounds 0.99–2.08; medians 195
 * against 139 µs) and 1.06× at 1,500 req/s offered (rounds 0.51–1.38), where fewer writes share a turn.
 * Off: UPSTREAM_COALESCE_WRITES=0 (read once at start): undici's own connector, a syscall per write.
 */
const COALESCE_WRITES = process.env.UPSTREAM_COALESCE_WRITES !== '0'

/** An undici connector whose sockets coalesce the writes of each event-loop turn (unless switched off above). */
export function coalescingConnector (options: buildConnector.BuildOptions): buildConnector.connector {
  const connect = buildConnector(options)
  if (!COALESCE_WRITES) return connect
  return (connectOptions, callback) => {
    connect(connectOptions, (...result) => {
      const [err, socket] = result
      if (err === null) coalesceWrites(socket)
      callback(...result)
    })
  }
}
