import { readFileSync } from 'node:fs'

/**
 * A secret from a `<NAME>_FILE` file (a Docker secret, a file from a vault): its content, one trailing newline
 * dropped (what `echo` and editors add). Throws when the file cannot be read. Its own module, exported as
 * `@weapp/common/secret-file` too, so the `pnpm start` launcher can use it without bundling the rest.
 */
export function readSecretFile (path: string): string {
  return readFileSync(path, 'utf8').replace(/\r?\n$/, '')
}
