import { metricsPlugin } from '@weapp/common'
import { SessionMetrics } from '../metrics.js'

declare module 'fastify' {
  interface FastifyInstance {
    sessionMetrics: SessionMetrics
  }
}

export default metricsPlugin({ name: 'session-metrics', decorator: 'sessionMetrics', create: () => new SessionMetrics() })
