import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'

/**
 * An upgrade request answered with HTTP (a refusal) ends there: its TCP socket is destroyed once the answer
 * is out. @fastify/websocket does that only for requests its own onRequest hook marked (`request.ws`); an
 * upgrade refused by an earlier hook (the shared internal-auth check on a non-public route) was never marked,
 * so its socket stayed open, idle, and `app.close()` waited for it (about 2 minutes).
 */
async function upgradeRefusals (app: FastifyInstance): Promise<void> {
  app.addHook('onResponse', (request, _reply, done) => {
    // Node's HTTP parser sets `upgrade` on requests it hands to the server's 'upgrade' event (not in @types/node).
    if ((request.raw as { upgrade?: boolean }).upgrade === true && request.ws !== true) request.raw.socket.destroy()
    done()
  })
}

export default fp(upgradeRefusals, { name: 'ws-upgrade-refusals', fastify: '5.x' })
