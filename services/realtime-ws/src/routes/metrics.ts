import { metricsRoute } from '@weapp/common'

/** GET /metrics: Prometheus text; needs the internal credential (the gateway decides who may scrape). */
export default metricsRoute((app) => app.wsMetrics.registry)
