import type { Server } from 'node:net'

/** `http://127.0.0.1:<port>` of a server listening on 127.0.0.1 (a port 0 listen picked the port). */
export function localUrl (server: Server, scheme = 'http'): string {
  const address = server.address()
  if (address === null || typeof address === 'string') throw new Error('the server is not listening on a TCP port')
  return `${scheme}://127.0.0.1:${address.port}`
}

/** A Fastify app (or anything with its `listen` and `server`). */
export interface Listenable { listen (opts: { host: string, port: number }): Promise<unknown>, readonly server: Server }

/** Listens on a free port of 127.0.0.1 (real sockets, nothing reachable from outside) and returns the base URL. */
export async function listenLocal (app: Listenable): Promise<string> {
  await app.listen({ host: '127.0.0.1', port: 0 })
  return localUrl(app.server)
}
