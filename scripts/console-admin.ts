// `pnpm console:admin <login> [--name "<display name>"]`: creates the agent console's admin, or (when the login
// exists) sets its password, makes it an enabled admin and ends its sessions: the way back in when no admin
// can log in (docs/console.md#sessions). The password is read from stdin (typed without echo, twice, on a
// terminal; piped: the first line), never from the command line, where `ps` and the shell history would keep it.
// It calls the session service's POST /internal/agents/bootstrap with the internal credential:
//   INTERNAL_TOKEN (or INTERNAL_TOKEN_FILE)  the same value the services run with
//   SESSION_URL                              the session service (default http://127.0.0.1:8081)
import { INTERNAL_TOKEN_HEADER, readSecretFile } from '@weapp/common'

const USAGE = 'usage: pnpm console:admin <login> [--name "<display name>"]   (the password on stdin)'
const DEFAULT_SESSION_URL = 'http://127.0.0.1:8081'
/** The password policy's maximum, with room: a longer paste is refused by the service with its reason. */
const MAX_INPUT = 4096

function fail (message: string, code = 1): never {
  process.stderr.write(`console:admin: ${message}\n`)
  process.exit(code)
}

function parseArgs (argv: string[]): { login: string, displayName?: string } {
  const args = [...argv]
  let displayName: string | undefined
  const positional: string[] = []
  while (args.length > 0) {
    const arg = args.shift()!
    if (arg === '--name') {
      displayName = args.shift()
      if (displayName === undefined) fail(USAGE, 2)
    } else if (arg === '--help' || arg === '-h') {
      process.stdout.write(USAGE + '\n')
      process.exit(0)
    } else {
      positional.push(arg)
    }
  }
  if (positional.length !== 1) fail(USAGE, 2)
  return { login: positional[0]!, ...(displayName !== undefined ? { displayName } : {}) }
}

function internalToken (): string {
  const direct = process.env.INTERNAL_TOKEN
  if (direct !== undefined && direct !== '') return direct
  const file = process.env.INTERNAL_TOKEN_FILE
  if (file !== undefined && file !== '') {
    try {
      return readSecretFile(file)
    } catch {
      fail('INTERNAL_TOKEN_FILE names a file that cannot be read')
    }
  }
  return fail('INTERNAL_TOKEN is required (the value the session service runs with)')
}

/** One line typed on the terminal, not echoed. */
async function promptHidden (prompt: string): Promise<string> {
  const stdin = process.stdin
  process.stderr.write(prompt)
  stdin.setRawMode(true)
  stdin.resume()
  stdin.setEncoding('utf8')
  return await new Promise((resolve) => {
    let value = ''
    const onData = (chunk: string): void => {
      for (const ch of chunk) {
        if (ch === '\r' || ch === '\n') {
          stdin.off('data', onData)
          stdin.setRawMode(false)
          stdin.pause()
          process.stderr.write('\n')
          resolve(value)
          return
        }
        if (ch === '\u0003') { // Ctrl-C
          stdin.setRawMode(false)
          process.stderr.write('\n')
          process.exit(130)
        }
        if (ch === '\u007f' || ch === '\b') value = value.slice(0, -1)
        else if (value.length < MAX_INPUT) value += ch
      }
    }
    stdin.on('data', onData)
  })
}

/** The first line of piped stdin (a trailing newline is not part of the password). */
async function readPiped (): Promise<string> {
  let input = ''
  for await (const chunk of process.stdin) {
    input += String(chunk)
    if (input.length > MAX_INPUT) break
  }
  return input.split(/\r?\n/)[0] ?? ''
}

async function readPassword (): Promise<string> {
  if (process.stdin.isTTY !== true) return await readPiped()
  const first = await promptHidden('Password (12-256 characters): ')
  const again = await promptHidden('Again: ')
  if (first !== again) fail('the two passwords differ; nothing changed')
  return first
}

const { login, displayName } = parseArgs(process.argv.slice(2))
const token = internalToken()
const password = await readPassword()
if (password === '') fail('no password on stdin; nothing changed')
const base = (process.env.SESSION_URL ?? DEFAULT_SESSION_URL).replace(/\/+$/, '')

let res: Response
try {
  res = await fetch(`${base}/internal/agents/bootstrap`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', [INTERNAL_TOKEN_HEADER]: token },
    body: JSON.stringify({ login, password, ...(displayName !== undefined ? { displayName } : {}) }),
    signal: AbortSignal.timeout(30_000)
  })
} catch (err) {
  fail(`cannot reach the session service at ${base} (${(err as Error).message}); set SESSION_URL`)
}
const body = await res.json().catch(() => null) as { agent?: { login: string, role: string }, created?: boolean, code?: string, message?: string } | null
if (!res.ok || body?.agent === undefined) fail(`${res.status} ${body?.code ?? ''} ${body?.message ?? 'unexpected answer'}; nothing changed`.replace(/ {2,}/g, ' '))
process.stdout.write(body.created === true
  ? `created console admin ${body.agent.login}\n`
  : `console admin ${body.agent.login}: new password set, enabled, its sessions ended\n`)
