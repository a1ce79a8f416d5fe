import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import gen1 from './gen1.js'
import gen2 from './gen2.js'

/**
 * The wafer login protocols. Their clients send everything in headers; a POST may come with any
 * content type and an empty or junk body, so bodies are read (within bodyLimit) and ignored here.
 */
const wafer: FastifyPluginAsyncTypebox = async (app) => {
  app.removeAllContentTypeParsers()
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, _body, done) => { done(null, undefined) })
  await app.register(gen1)
  await app.register(gen2, { prefix: '/weapp' })
}

export default wafer
