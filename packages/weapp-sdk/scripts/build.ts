// Builds the SDK into ONE CommonJS file a mini-program can `require` (no other requires, ES2017), and
// writes it to dist/ and to the example mini-program, which commits its copy so WeChat DevTools opens it
// as it is. test/build.test.ts checks that the committed copy equals a fresh build.
import { mkdirSync, writeFileSync } from 'node:fs'
import { dirname, join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import { build } from 'esbuild'

const packageDir = join(dirname(fileURLToPath(import.meta.url)), '..')
export const ENTRY = join(packageDir, 'src', 'index.ts')
export const OUTPUTS = [
  join(packageDir, 'dist', 'weapp-sdk.js'),
  join(packageDir, '..', '..', 'examples', 'miniprogram', 'utils', 'weapp-sdk.js')
]

const BANNER = [
  '// @weapp/weapp-sdk: the mini-program client of the weapp backend (login, requests, realtime socket).',
  '// Generated from packages/weapp-sdk/src by `pnpm --filter @weapp/weapp-sdk build`: do not edit.',
  '// Uses only wx.* APIs; no other module is required.'
].join('\n')

/** The bundle's text. Deterministic: the same sources and esbuild version give the same bytes. */
export async function bundle (): Promise<string> {
  const result = await build({
    absWorkingDir: packageDir,
    entryPoints: [ENTRY],
    bundle: true,
    write: false,
    format: 'cjs',
    platform: 'neutral',
    target: 'es2017',
    charset: 'utf8',
    legalComments: 'none',
    banner: { js: BANNER },
    logLevel: 'silent'
  })
  const file = result.outputFiles[0]
  if (file === undefined) throw new Error('esbuild produced no output')
  return file.text
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const text = await bundle()
  for (const out of OUTPUTS) {
    mkdirSync(dirname(out), { recursive: true })
    writeFileSync(out, text)
    console.log(`wrote ${relative(process.cwd(), out)} (${text.length} bytes)`)
  }
}
