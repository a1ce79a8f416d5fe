// The test run is where schemas are checked against the JSON Schema meta-schema (production skips the
// check at start: packages/common/src/schema-checks.ts): this fails if a run stops checking them.
import Fastify from 'fastify'
import t from 'tap'
import { VALIDATE_SCHEMAS, loadConfig, serverOptions } from '@weapp/common'

const BROKEN = { type: 'object', properties: { port: { type: 'integr' } } }

t.test('the test run checks schemas (scripts/test.ts sets WEAPP_VALIDATE_SCHEMAS=1)', async (t) => {
  t.equal(VALIDATE_SCHEMAS, true)
})

t.test('a schema that breaks the meta-schema is refused, by a route and by loadConfig', async (t) => {
  const app = Fastify(serverOptions({ service: 'test', logLevel: 'silent' }))
  t.teardown(() => app.close())
  app.post('/x', { schema: { body: BROKEN } }, async () => 'ok')
  await t.rejects(async () => { await app.ready() }, /schema is invalid/)
  t.throws(() => loadConfig(BROKEN as never, { port: '1' }), /schema is invalid/)
})
