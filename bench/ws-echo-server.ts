// The baseline of `pnpm bench:ws`: a bare `ws` server answering the same shaped text as realtime-ws
// (`Server: 恭喜，<name>` on connect, `Server: Received(<msg>)` per message), with the same ws options
// (no permessage-deflate, 16 KiB maxPayload, client tracking) and nothing else: no Fastify, no auth, no
// hub, no heartbeat, no logging. `GET /` answers 200 (readiness).
import { createServer } from 'node:http'
import { WebSocketServer, type RawData } from 'ws'

/** As realtime-ws's rawText(). */
function text (data: RawData): string {
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf8')
  return Buffer.isBuffer(data) ? data.toString('utf8') : Buffer.from(data).toString('utf8')
}

const server = createServer((_req, res) => { res.end('ok') })
const wss = new WebSocketServer({ server, perMessageDeflate: false, maxPayload: 16 * 1024, clientTracking: true })
wss.on('connection', (socket) => {
  socket.send('Server: 恭喜，bench')
  socket.on('message', (data) => { socket.send(`Server: Received(${text(data)})`) })
  socket.on('error', () => {})
})
server.listen(Number(process.env.PORT ?? 0), process.env.HOST ?? '127.0.0.1')
process.on('SIGTERM', () => {
  for (const socket of wss.clients) socket.terminate()
  wss.close()
  server.close(() => process.exit(0))
})
