import { healthRoute, redisTopologyOf } from '@weapp/common'

/**
 * GET /healthz. With Redis, `status: degraded` while Redis is away: pushes are then answered 503 and
 * WeChat retries them.
 */
export default healthRoute({ service: 'cs-messaging', redis: (app) => app.csRedis, topology: (app) => redisTopologyOf(app.csConfig) })
