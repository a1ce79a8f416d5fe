import { request as httpRequest, type IncomingHttpHeaders } from 'node:http'
import { request as httpsRequest } from 'node:https'

export interface RawRequestInit {
  method?: string
  headers?: Record<string, string>
  body?: string | Buffer
  /** Sent as written, instead of the URL's own path: `/a/../b` and `%2e%2e` reach the server unnormalised. */
  path?: string
  /** A CA to trust (https to a server with a test certificate). */
  ca?: Buffer | string
}

export interface RawReply {
  status: number
  headers: IncomingHttpHeaders
  text: string
  json: () => any
}

/**
 * One request with node:http(s) on a connection of its own: unlike fetch, it neither normalises the path
 * nor refuses hop-by-hop headers, for the requests a well-behaved client would not send.
 */
export async function rawRequest (url: string, init: RawRequestInit = {}): Promise<RawReply> {
  const target = new URL(url)
  const send = target.protocol === 'https:' ? httpsRequest : httpRequest
  const options = {
    method: init.method ?? 'GET',
    agent: false,
    ...(init.headers !== undefined ? { headers: init.headers } : {}),
    ...(init.path !== undefined ? { path: init.path } : {}),
    ...(init.ca !== undefined ? { ca: init.ca } : {})
  }
  return await new Promise((resolve, reject) => {
    const req = send(target, options, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8')
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json: () => JSON.parse(text) })
      })
      res.on('error', reject)
    })
    req.on('error', reject)
    req.end(init.body)
  })
}
