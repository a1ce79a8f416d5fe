import { isIP } from 'node:net'
import { ConfigInvalidError } from './errors.js'

// proxy-addr's named ranges; everything else must be an IP address or a CIDR.
const TRUST_KEYWORDS = new Set(['loopback', 'linklocal', 'uniquelocal'])

/**
 * TRUST_PROXY (the gateway's, and realtime-ws's for the upgrades nginx sends it directly) as the list
 * Fastify's `trustProxy` takes, or false. A blanket `true` (or `*`) is refused: it would let any client
 * choose its own IP and walk around the per-address limits.
 */
export function trustProxyList (value: string | undefined): string[] | false {
  if (value === undefined) return false
  const entries = value.split(',').map((s) => s.trim()).filter((s) => s !== '')
  const bad = entries.filter((entry) => {
    if (TRUST_KEYWORDS.has(entry)) return false
    const slash = entry.indexOf('/')
    const ip = slash === -1 ? entry : entry.slice(0, slash)
    const version = isIP(ip)
    if (version === 0) return true
    if (slash === -1) return false
    const bits = entry.slice(slash + 1)
    if (!/^\d{1,3}$/.test(bits)) return true
    return Number(bits) > (version === 4 ? 32 : 128)
  })
  if (entries.length === 0 || bad.length > 0) {
    throw new ConfigInvalidError('TRUST_PROXY must be a comma-separated list of IP addresses or CIDRs (e.g. 10.0.0.5,10.1.0.0/16)')
  }
  return entries
}
