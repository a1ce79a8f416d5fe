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

/** An undici connector whose sockets coalesce the writes of each event-loop turn. */
export function coalescingConnector (options: buildConnector.BuildOptions): buildConnector.connector {
  const connect = buildConnector(options)
  return (connectOptions, callback) => {
    connect(connectOptions, (...result) => {
      const [err, socket] = result
      if (err === null) coalesceWrites(socket)
      callback(...result)
    })
  }
}
