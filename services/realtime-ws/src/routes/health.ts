import Type from 'typebox'
import { healthRoute, redisTopologyOf } from '@weapp/common'

/**
 * GET /healthz, with the open sockets of this instance. With Redis, `status: degraded` while Redis is
 * away: sockets authenticated by a session still open; tickets and cross-instance pushes wait for it.
 */
export default healthRoute({
  service: 'realtime-ws',
  redis: (app) => app.wsRedis,
  topology: (app) => redisTopologyOf(app.wsConfig),
  fields: { sockets: Type.Integer() },
  values: (app) => ({ sockets: app.wsHub.size })
})
