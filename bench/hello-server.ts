// The baseline every ratio is measured against: a bare Fastify hello world, no plugins, no logging.
import Fastify from 'fastify'

const app = Fastify({ logger: false })
app.get('/', async () => ({ hello: 'world' }))
await app.listen({ host: '127.0.0.1', port: Number(process.env.PORT ?? 0) })
process.on('SIGTERM', () => { void app.close().then(() => process.exit(0)) })
