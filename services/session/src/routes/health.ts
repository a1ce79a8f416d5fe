import { healthRoute, redisTopologyOf } from '@weapp/common'

/**
 * GET /healthz. With Redis, `status: degraded` while Redis is away: logins and sessions do not need it;
 * access tokens (phone numbers) and revocation events wait for it.
 */
export default healthRoute({ service: 'session', redis: (app) => app.sessionRedis, topology: (app) => redisTopologyOf(app.sessionConfig) })
