import t from 'tap'
import { createServer } from 'node:net'
import { localUrl, startSimulator } from '../src/index.js'

t.test('startSimulator: the simulator on a local port, its control API on the same URL, closed at the end', async (t) => {
  let sim: Awaited<ReturnType<typeof startSimulator>> | undefined
  await t.test('started', async (t) => {
    sim = await startSimulator(t)
    t.match(sim.url, /^http:\/\/127\.0\.0\.1:\d+$/)
    const { code } = await sim.control.loginCode({ user: 'alice' })
    t.type(code, 'string')
  })
  t.equal(sim?.app.server.listening, false, 'closed when its test ended')
})

t.test('localUrl names the port a port-0 listen picked; a server not listening is an error', async (t) => {
  const server = createServer()
  t.throws(() => localUrl(server), { message: 'the server is not listening on a TCP port' })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => { server.close() })
  t.equal(localUrl(server, 'ws'), `ws://127.0.0.1:${(server.address() as { port: number }).port}`)
})
