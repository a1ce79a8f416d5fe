import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'

/**
 * The first console admin (docs/console.md#sessions): with CONSOLE_ADMIN_LOGIN and CONSOLE_ADMIN_PASSWORD set,
 * created at start when that login does not exist yet; an existing account is never overwritten (a password
 * changed in the console stays changed). The password is never logged.
 */
async function consoleAdminPlugin (app: FastifyInstance): Promise<void> {
  const { CONSOLE_ADMIN_LOGIN: login, CONSOLE_ADMIN_PASSWORD: password } = app.sessionConfig
  if (login === undefined || password === undefined) return
  await app.agentService.ensureAdmin(login, password)
}

export default fp(consoleAdminPlugin, { name: 'session-console-admin', fastify: '5.x', dependencies: ['session-config', 'session-services'] })
