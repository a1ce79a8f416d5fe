import type { LoggerOptions } from 'pino'

/** Paths that may carry secrets; pino replaces them before anything is written. */
export const REDACTED_PATHS = [
  'req.headers.authorization',
  'req.headers["x-internal-token"]',
  'req.headers["x-wx-skey"]',
  'req.headers["x-wx-code"]',
  'req.headers["x-wx-encrypted-data"]',
  'req.headers["x-wx-iv"]',
  'req.headers.cookie',
  '*.session_key', '*.sessionKey', '*.secret', '*.appSecret', '*.access_token', '*.accessToken',
  '*.token', '*.skey', '*.js_code', '*.jsCode', '*.encryptedData', '*.password', 'body.code'
]

/** pino settings shared by every service: JSON to stdout, secrets redacted, service name on every line. */
export function loggerOptions (service: string, level: string): LoggerOptions {
  return {
    level,
    base: { service },
    redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
    serializers: {
      // Query strings may carry codes and tokens (wafer tunnels, WeChat callbacks): log the path only.
      req (req: { method: string, url: string, id: string }) {
        const q = req.url.indexOf('?')
        return { method: req.method, url: q === -1 ? req.url : req.url.slice(0, q), id: req.id }
      }
    }
  }
}
