// `npm run up` with CONSOLE_ADMIN_PASSWORD_FILE (a Docker secret, a file from a vault): the first console admin
// gets the file's password, not one made for the run (scripts/system.ts used to set CONSOLE_ADMIN_PASSWORD,
// which wins over the file, so the file was silently ignored).
import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { startSystem } from '../scripts/system.js'

t.test('CONSOLE_ADMIN_PASSWORD_FILE: the console admin logs in with the file\'s password', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'weapp-admin-file-'))
  t.teardown(() => { rmSync(dir, { recursive: true, force: true }) })
  const password = randomBytes(18).toString('base64url')
  const file = join(dir, 'console_admin_password')
  writeFileSync(file, `${password}\n`, { mode: 0o600 })

  const system = await startSystem({ output: 'ignore', env: { LOG_LEVEL: 'warn', REDIS_URL: undefined, CONSOLE_ADMIN_LOGIN: 'boss', CONSOLE_ADMIN_PASSWORD_FILE: file } })
  t.teardown(system.stop)
  t.equal(system.secrets.consoleAdmin.password, password, 'the run reports the file\'s password (its trailing newline dropped)')

  const base = system.urls.gateway
  const login = async (pw: string): Promise<number> => (await fetch(`${base}/api/console/login`, {
    method: 'POST',
    headers: { origin: base, 'content-type': 'application/json' },
    body: JSON.stringify({ login: 'boss', password: pw })
  })).status
  t.equal(await login(password), 200, 'the file\'s password opens the console')
  t.equal(await login(`${password}x`), 401, 'another does not')
})
