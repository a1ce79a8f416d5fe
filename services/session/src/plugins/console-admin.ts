import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'

declare module 'fastify' {
  interface FastifyInstance {
    /** Settles once the first admin of CONSOLE_ADMIN_LOGIN exists (or could not be made: logged). */
    consoleAdminReady: Promise<void>
  }
}

/**
 * The first console admin (docs/console.md#sessions): with CONSOLE_ADMIN_LOGIN and CONSOLE_ADMIN_PASSWORD set,
 * created at start when that login does not exist yet; an existing account is never overwritten (a password
 * changed in the console stays changed). The password is never logged.
 */
async function consoleAdminPlugin (app: FastifyInstance): Promise<void> {
  const { CONSOLE_ADMIN_LOGIN: login, CONSOLE_ADMIN_PASSWORD: password } = app.sessionConfig
  if (login === undefined || password === undefined) {
    app.decorate('consoleAdminReady', Promise.resolve())
    return
  }
  // Not awaited: hashing the password at OWASP's scrypt cost takes 0.3 s of CPU on a quiet machine and more
  // than avvio's 10 s plugin timeout on a loaded one (seen: the service failed to start). The service starts
  // without it; console logins wait for it.
  const ready = app.agentService.ensureAdmin(login, password).then(() => {}, (err: unknown) => {
    app.log.error({ err }, 'the console admin from CONSOLE_ADMIN_LOGIN could not be created')
  })
  app.agentSessionService.holdLoginsUntil(ready)
  app.decorate('consoleAdminReady', ready)
  app.addHook('onClose', async () => { await ready })
}

export default fp(consoleAdminPlugin, { name: 'session-console-admin', fastify: '5.x', dependencies: ['session-config', 'session-services'] })
