import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { connect, createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'

/** A free TCP port on loopback, for servers that cannot listen on port 0 themselves. */
export async function freePort (): Promise<number> {
  return await new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      server.close(() => { resolve(typeof address === 'object' && address !== null ? address.port : 0) })
    })
  })
}

/** Sends one inline command and returns the raw reply (enough for PING / INFO / CLUSTER INFO). */
export async function askRedis (port: number, command: string): Promise<string> {
  return await new Promise((resolve) => {
    let reply = ''
    const socket = connect(port, '127.0.0.1', () => socket.write(`${command}\r\n`))
    socket.setTimeout(1_000, () => { socket.destroy(); resolve(reply) })
    socket.on('data', (data) => {
      reply += data.toString()
      // Inline replies end at the first CRLF; bulk replies ($len) once the whole body arrived.
      const bulk = /^\$(\d+)\r\n/.exec(reply)
      if (bulk === null ? reply.includes('\r\n') : reply.length >= bulk[0].length + Number(bulk[1]) + 2) {
        socket.destroy()
        resolve(reply)
      }
    })
    socket.once('error', () => resolve(''))
  })
}

/** True once a Redis server on this port answers PING. */
export async function pong (port: number): Promise<boolean> {
  return (await askRedis(port, 'PING')).startsWith('+PONG')
}

export interface LocalRedis {
  url: string
  stop: () => Promise<void>
}

/**
 * Starts Debian's redis-server on a free loopback port (or `port`: a test bringing Redis back where its
 * clients expect it) with a throw-away directory and no persistence. Returns null when the binary is
 * not installed (the caller decides whether that is fatal).
 */
export async function startLocalRedis (port?: number): Promise<LocalRedis | null> {
  port ??= await freePort()
  const dir = mkdtempSync(join(tmpdir(), 'weapp-redis-'))
  let child: ChildProcess
  try {
    child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir], { stdio: 'ignore' })
  } catch {
    return null
  }
  const spawned = await new Promise<boolean>((resolve) => {
    child.once('error', () => resolve(false))
    child.once('spawn', () => resolve(true))
  })
  if (!spawned) return null
  const url = `redis://127.0.0.1:${port}`
  for (let i = 0; i < 100 && !(await pong(port)); i++) await sleep(50)
  return {
    url,
    stop: async () => {
      child.kill('SIGTERM')
      await new Promise((resolve) => child.once('exit', resolve))
      rmSync(dir, { recursive: true, force: true })
    }
  }
}

/** The run's REDIS_URL, else a throw-away redis-server (`local`, for the caller to stop); throws without either. */
export async function envOrLocalRedis (): Promise<{ url: string, local: LocalRedis | null }> {
  const url = process.env.REDIS_URL
  if (url !== undefined && url !== '') return { url, local: null }
  const local = await startLocalRedis()
  if (local === null) throw new Error('no REDIS_URL and no redis-server to start (apt-get install redis-server)')
  return { url: local.url, local }
}
