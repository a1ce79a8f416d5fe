import { metricsPlugin } from '@weapp/common'
import { CsMetrics } from '../metrics.js'

declare module 'fastify' {
  interface FastifyInstance {
    csMetrics: CsMetrics
  }
}

/** The queue gauges read the queue at scrape time. */
export default metricsPlugin({ name: 'cs-metrics', decorator: 'csMetrics', create: (app) => new CsMetrics(async () => await app.inboundQueue.stats()), dependencies: ['cs-queue'] })
