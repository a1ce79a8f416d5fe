import { healthRoute } from '@weapp/common'

/**
 * GET /healthz. With REDIS_URL, `status: degraded` while Redis is away: pushes are then answered 503 and
 * WeChat retries them.
 */
export default healthRoute({ service: 'cs-messaging', redis: (app) => app.csRedis })
