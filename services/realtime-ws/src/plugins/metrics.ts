import { metricsPlugin } from '@weapp/common'
import { WsMetrics } from '../metrics.js'

declare module 'fastify' {
  interface FastifyInstance {
    wsMetrics: WsMetrics
  }
}

export default metricsPlugin({ name: 'ws-metrics', decorator: 'wsMetrics', create: () => new WsMetrics() })
