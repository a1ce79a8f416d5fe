import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'
import { SessionService } from '../sessions/session-service.js'
import { LoginService } from '../sessions/login-service.js'
import { DEFAULT_TOUCH_INTERVAL_MS } from '../sessions/expiry.js'
import { PhoneService } from '../users/phone-service.js'
import { PasswordHasher, type PasswordHasherOptions } from '../agents/passwords.js'
import { AgentSessionService } from '../agents/agent-session-service.js'
import { AgentService } from '../agents/agent-service.js'

declare module 'fastify' {
  interface FastifyInstance {
    sessionService: SessionService
    loginService: LoginService
    phoneService: PhoneService
    /** Console sessions: login, resolve, logout, ending an agent's sessions. */
    agentSessionService: AgentSessionService
    /** Console accounts: create, change, passwords, the first admin. */
    agentService: AgentService
  }
}

export interface ServicesPluginOptions {
  /** Password hashing tuning: tests lower the scrypt cost (there is no environment variable for it). */
  passwords?: PasswordHasherOptions
}

/** The service layer the routes call: built once from the stores, the WeChat client and the bus. */
async function servicesPlugin (app: FastifyInstance, opts: ServicesPluginOptions): Promise<void> {
  const { sessionConfig: config, clock } = app
  const sessions = new SessionService({
    sessions: app.sessionsRepository,
    bus: app.bus,
    policy: {
      idleTtlMs: config.SESSION_IDLE_TTL_SEC * 1000,
      maxTtlMs: config.SESSION_MAX_TTL_SEC * 1000,
      touchIntervalMs: DEFAULT_TOUCH_INTERVAL_MS
    },
    now: clock,
    log: app.log
  })
  app.decorate('sessionService', sessions)
  app.decorate('loginService', new LoginService({ wechat: app.wechat, users: app.usersRepository, sessions, appId: config.APP_ID, now: clock }))
  app.decorate('phoneService', new PhoneService({ wechat: app.wechat, tokens: app.accessTokens, users: app.usersRepository, appId: config.APP_ID }))

  const passwords = new PasswordHasher(opts.passwords)
  const agentSessions = new AgentSessionService({
    agents: app.agentsRepository,
    sessions: app.agentSessionsRepository,
    bus: app.bus,
    passwords,
    policy: {
      idleMs: config.CONSOLE_SESSION_IDLE_SEC * 1000,
      maxMs: config.CONSOLE_SESSION_MAX_SEC * 1000,
      touchIntervalMs: DEFAULT_TOUCH_INTERVAL_MS
    },
    now: clock,
    log: app.log
  })
  app.decorate('agentSessionService', agentSessions)
  app.decorate('agentService', new AgentService({ agents: app.agentsRepository, sessions: agentSessions, passwords, now: clock, log: app.log }))
}

export default fp(servicesPlugin, {
  name: 'session-services',
  fastify: '5.x',
  dependencies: ['session-config', 'session-repositories', '@weapp/bus', 'session-wechat']
})
