import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'
import { ConsoleHub } from '../console/console-hub.js'

declare module 'fastify' {
  interface FastifyInstance {
    /** The agent console's sockets here: events relayed from the bus, replay, presence. */
    wsConsole: ConsoleHub
  }
}

/**
 * The console hub, listening to `weapp:console` from the start. On close it says goodbye to the other
 * instances before the bus closes; the hub (ws-hub) closes the console sockets with the others (1001).
 */
async function consolePlugin (app: FastifyInstance): Promise<void> {
  const hub = new ConsoleHub({ bus: app.bus, log: app.log.child({ component: 'console' }), now: app.clock })
  app.decorate('wsConsole', hub)
  await hub.start()
  app.addHook('preClose', async () => { await hub.close() })
  // Safety net for a close without preClose having run (ready() failed half-way).
  app.addHook('onClose', async () => { await hub.close() })
}

export default fp(consolePlugin, { name: 'ws-console', fastify: '5.x', dependencies: ['ws-config', '@weapp/bus', 'ws-hub'] })
