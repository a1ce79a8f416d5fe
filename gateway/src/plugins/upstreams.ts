import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import { Pool } from 'undici'
import type { GatewayConfig } from '../config.js'
import { coalescingConnector } from '../proxy/coalescing-connector.js'
import type { Upstream } from '../proxy/forward.js'
import { UPSTREAMS, UPSTREAM_NAMES, type UpstreamName } from '../routes-table.js'

declare module 'fastify' {
  interface FastifyInstance {
    /** Every upstream of the route table with its shared keep-alive pool. */
    upstreams: ReadonlyMap<UpstreamName, Upstream>
  }
}

/** Longest wait for a TCP connection to an upstream (bounded by UPSTREAM_TIMEOUT_MS). */
export const CONNECT_TIMEOUT_MS = 3_000

/**
 * Pool settings measured with bench/proxy.ts (`pnpm bench:proxy`): HTTP/1.1 keep-alive with pipelining for the
 * routes that opt in (`pipeline` in the route table; every other request is dispatched as
 * blocking, so nothing queues behind it), writes coalesced per event-loop turn, and a generous
 * connection cap (undici opens a connection only when the existing ones are full, so the cap costs
 * nothing at low load and keeps slow requests, which hold a connection each, from starving the rest).
 */
export function poolOptions (config: GatewayConfig): Pool.Options {
  return {
    connections: config.UPSTREAM_CONNECTIONS,
    pipelining: config.UPSTREAM_PIPELINING,
    keepAliveTimeout: 30_000,
    keepAliveMaxTimeout: 60_000,
    headersTimeout: config.UPSTREAM_TIMEOUT_MS,
    bodyTimeout: config.UPSTREAM_TIMEOUT_MS,
    // Writes of one event-loop turn leave in one syscall (proxy/coalescing-connector.ts).
    connect: coalescingConnector({ timeout: Math.min(CONNECT_TIMEOUT_MS, config.UPSTREAM_TIMEOUT_MS) })
  }
}

/** How long closing waits for an upstream pool's last requests before destroying it. */
export const POOL_CLOSE_GRACE_MS = 1_000

async function closePool (pool: Pool): Promise<void> {
  let timer: NodeJS.Timeout | undefined
  const graceOver = new Promise<'late'>((resolve) => { timer = setTimeout(() => { resolve('late') }, POOL_CLOSE_GRACE_MS) })
  const outcome = await Promise.race([pool.close().then(() => 'closed' as const), graceOver])
  clearTimeout(timer)
  if (outcome === 'late') await pool.destroy()
}

async function upstreamsPlugin (app: FastifyInstance, opts: { config: GatewayConfig }): Promise<void> {
  const upstreams = new Map<UpstreamName, Upstream>()
  for (const name of UPSTREAM_NAMES) {
    const origin = new URL(opts.config[UPSTREAMS[name].urlEnv]).origin
    upstreams.set(name, { name, origin, pool: new Pool(origin, poolOptions(opts.config)) })
  }
  app.decorate('upstreams', upstreams)
  app.addHook('onClose', async () => {
    // In-flight requests are done by now; whatever is still open after a moment is cut.
    await Promise.all([...upstreams.values()].map(async (u) => { await closePool(u.pool) }))
  })
}

export default fp(upstreamsPlugin, { name: 'gateway-upstreams', fastify: '5.x' })
