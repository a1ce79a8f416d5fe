// The repository must work from a clone with nothing beside it: no file may point outside it, and every
// reference to our own documentation must name a file (and heading) that exists. Scans every file git
// knows (tracked, plus untracked ones that are not ignored), as they are in the working tree.
import { execFileSync } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { posix } from 'node:path'
import { fileURLToPath } from 'node:url'
import t from 'tap'

const ROOT = fileURLToPath(new URL('..', import.meta.url))

/** The repository as the checks see it: files by repo-relative POSIX path, read on demand. */
export interface Repo {
  files: ReadonlySet<string>
  read: (path: string) => string
}

export interface Problem {
  file: string
  line: number
  ref: string
  reason: string
}

// ---- (a) paths outside the repository ----

/** Home and work directories of a build machine. System paths (/usr, /etc, /tmp, /dev, /proc…) are fine. */
const MACHINE_PATH = /(?<![\w.~:/-])\/(?:work|home|root|Users)\/[^\s'"`)\]>,;]*/g
/** A run of ../ that starts a path (not one inside a URL path such as /api/../x). */
const PARENT_PATH = /(?<![\w.@/-])(?:\.\.\/)+(?:[\w.@$-]+(?:\/[\w.@$-]+)*)?/g
/** A path into a sibling folder named shared/ (where the developers' reference material lives). */
const SHARED_PATH = /(?<![\w.@/-])shared\/[\w.-]+/g

// ---- (b) references to our documentation ----

const URL_TEXT = /\b[a-z][a-z0-9+.-]*:\/\/[^\s'"`<>)\]]+/gi
/** A path or file name ending in .md, with an optional #anchor. */
const MD_REF = /(?<![\w.@/-])((?:\.{1,2}\/)*(?:[\w.@-]+\/)*[\w.@-]+\.md)(#[\w-]+)?(?![\w.-]*\w)/g
/** A path into docs/ (a folder or a file of any kind). */
const DOCS_REF = /(?<![\w.@/-])docs\/[\w./-]*[\w/]/g
const MD_LINK = /!?\[[^\]\n]*\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g
const MD_DEFINITION = /^ {0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+.*)?$/gm
const FENCE = /^ {0,3}(```|~~~)[^\n]*\n[\s\S]*?(?:^ {0,3}\1[^\n]*$|(?![\s\S]))/gm
const HEADING = /^ {0,3}#{1,6}[ \t]+(.*?)(?:[ \t]+#+)?[ \t]*$/gm
const HTML_ANCHOR = /<a\s+(?:[^>]*\s)?(?:id|name)=["']([^"']+)["']/gi

const lineOf = (text: string, index: number): number => text.slice(0, index).split('\n').length
/** Blanks a match, keeping its line breaks so line numbers stay right. */
const blank = (s: string): string => s.replace(/[^\n]/g, ' ')

/** GitHub's heading anchor: the heading's text, lower case, punctuation dropped, spaces as hyphens. */
export function slug (heading: string): string {
  const text = heading
    .replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1')
    .replace(/<[^>]+>/g, '')
    .replace(/[`*]/g, '')
  return text.trim().toLowerCase().replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, '').replace(/ /g, '-')
}

/** Every anchor a Markdown file offers: heading slugs (duplicates numbered as GitHub does) and <a id>. */
export function anchorsOf (markdown: string): Set<string> {
  const text = markdown.replace(FENCE, blank)
  const anchors = new Set<string>()
  const seen = new Map<string, number>()
  for (const m of text.matchAll(HEADING)) {
    const base = slug(m[1]!)
    const n = seen.get(base) ?? 0
    seen.set(base, n + 1)
    anchors.add(n === 0 ? base : `${base}-${n}`)
  }
  for (const m of text.matchAll(HTML_ANCHOR)) anchors.add(m[1]!)
  return anchors
}

function isDir (repo: Repo, path: string): boolean {
  const prefix = path === '' ? '' : path.replace(/\/$/, '') + '/'
  for (const f of repo.files) if (f.startsWith(prefix)) return true
  return false
}

const exists = (repo: Repo, path: string): boolean => repo.files.has(path) || isDir(repo, path)
/** A repo-relative path, or null when it leaves the repository. */
function inside (from: string, target: string): string | null {
  const joined = posix.normalize(posix.join(from, target))
  return joined === '..' || joined.startsWith('../') ? null : joined.replace(/^\.\/?/, '').replace(/\/$/, '')
}

function anchorMissing (repo: Repo, file: string, anchor: string | undefined, cache: Map<string, Set<string>>): boolean {
  if (anchor === undefined || anchor === '' || !file.endsWith('.md') || !repo.files.has(file)) return false
  let anchors = cache.get(file)
  if (anchors === undefined) {
    anchors = anchorsOf(repo.read(file))
    cache.set(file, anchors)
  }
  return !anchors.has(anchor)
}

/** Checks one file; returns what it references wrongly. */
export function checkFile (repo: Repo, file: string, text: string, cache = new Map<string, Set<string>>()): Problem[] {
  const problems: Problem[] = []
  const dir = posix.dirname(file)
  const report = (index: number, ref: string, reason: string): void => { problems.push({ file, line: lineOf(text, index), ref, reason }) }
  const withoutUrls = text.replace(URL_TEXT, blank)

  for (const m of withoutUrls.matchAll(MACHINE_PATH)) report(m.index, m[0], 'absolute path of a machine')
  for (const m of withoutUrls.matchAll(PARENT_PATH)) {
    if (inside(dir, m[0]) === null) report(m.index, m[0], 'leaves the repository')
  }
  if (!isDir(repo, 'shared')) {
    for (const m of withoutUrls.matchAll(SHARED_PATH)) report(m.index, m[0], 'names a shared/ folder that is not in the repository')
  }

  const basenames = new Set([...repo.files].map((f) => posix.basename(f)))
  for (const m of withoutUrls.matchAll(MD_REF)) {
    const [ref, path, hash] = [m[0], m[1]!, m[2]?.slice(1)]
    const candidates = [inside(dir, path), inside('.', path)].filter((p): p is string => p !== null && repo.files.has(p))
    if (candidates.length === 0) {
      if (path.includes('/') || !basenames.has(path)) report(m.index, ref, 'no such file in the repository')
      else if (hash !== undefined) {
        const owners = [...repo.files].filter((f) => posix.basename(f) === path)
        if (owners.every((f) => anchorMissing(repo, f, hash, cache))) report(m.index, ref, 'no such heading')
      }
    } else if (candidates.every((f) => anchorMissing(repo, f, hash, cache))) {
      report(m.index, ref, 'no such heading')
    }
  }
  for (const m of withoutUrls.matchAll(DOCS_REF)) {
    const path = m[0].replace(/\/$/, '')
    if (!exists(repo, path) && !exists(repo, inside(dir, path) ?? '')) report(m.index, m[0], 'no such file in the repository')
  }

  if (file.endsWith('.md')) {
    const prose = text.replace(FENCE, blank).replace(/`[^`\n]*`/g, blank)
    const targets = [...prose.matchAll(MD_LINK), ...prose.matchAll(MD_DEFINITION)]
    for (const m of targets) {
      const target = m[1]!
      if (/^[a-z][a-z0-9+.-]*:/i.test(target) || target.startsWith('//')) continue
      const [rawPath, anchor] = target.split('#', 2) as [string, string | undefined]
      const path = decodeURIComponent(rawPath)
      const resolved = path === '' ? file : path.startsWith('/') ? inside('.', path.slice(1)) : inside(dir, path)
      if (resolved === null) report(m.index, target, 'link leaves the repository')
      else if (!exists(repo, resolved)) report(m.index, target, 'link to a file that is not in the repository')
      else if (anchorMissing(repo, resolved, anchor, cache)) report(m.index, target, 'link to a heading that does not exist')
    }
  }
  return problems
}

// ---- the repository itself ----

function gitFiles (): string[] | null {
  try {
    const out = execFileSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], { cwd: ROOT, encoding: 'utf8', maxBuffer: 64 << 20 })
    return [...new Set(out.split('\0').filter((f) => f !== ''))].sort()
  } catch {
    return null
  }
}

/** Lockfiles are generated, and their relative paths are relative to each workspace package, not to the file. */
const GENERATED = new Set(['pnpm-lock.yaml', 'package-lock.json'])

function readText (path: string): string | null {
  if (GENERATED.has(posix.basename(path))) return null
  try {
    const buf = readFileSync(posix.join(ROOT, path))
    return buf.subarray(0, 8000).includes(0) ? null : buf.toString('utf8')
  } catch {
    return null // listed by git but deleted in the working tree
  }
}

const format = (p: Problem): string => `${p.file}:${p.line}: ${p.ref} (${p.reason})`
const listed = gitFiles()

t.test('the checks catch what they should, and only that', async (t) => {
  // Built at run time, so this file's own text holds none of the bad references it tests with.
  const md = (name: string): string => `${name}.md`
  const up = (n: number): string => '../'.repeat(n)
  const files = new Map<string, string>([
    [`docs/${md('guide')}`, '# Guide\n\n## Safe mode\n\n## Safe mode\n\n<a id="custom"></a>\n```\n## not a heading\n```\n'],
    [`packages/a/${md('README')}`, '# A\n'],
    ['packages/a/src/x.ts', ''],
    ['scripts/tool.ts', '']
  ])
  const repo: Repo = { files: new Set(files.keys()), read: (p) => files.get(p) ?? '' }
  const problems = (file: string, text: string): string[] => checkFile(repo, file, text).map((p) => p.reason)

  t.same(problems('packages/a/src/x.ts', [
    `// see docs/${md('guide')}#safe-mode, docs/${md('guide')}#safe-mode-1, docs/${md('guide')}#custom, ${md('README')}`,
    `import x from '${up(3)}scripts/tool.js'`,
    "const browser = '/usr/bin/chromium'; const conf = '/etc/nginx/nginx.conf'; const tmp = '/tmp/x'",
    `// https://example.com/home/${md('page')} and /api/../../../etc stay URLs`
  ].join('\n')), [], 'valid references and system paths pass')
  t.same(problems('packages/a/src/x.ts', `// ${['', 'work', 'shared', 'x'].join('/')}`), ['absolute path of a machine'])
  t.same(problems('packages/a/src/x.ts', `// ${['shared', 'wechat', md('protocol')].join('/')}`), ['names a shared/ folder that is not in the repository', 'no such file in the repository'])
  t.same(problems('packages/a/src/x.ts', `// ${['', 'home', 'me', 'x'].join('/')}`), ['absolute path of a machine'])
  t.same(problems('packages/a/src/x.ts', `new URL('${up(4)}${'shared'}/v.json', import.meta.url)`), ['leaves the repository'])
  t.same(problems('packages/a/src/x.ts', `// ${md('protocol')} section 3`), ['no such file in the repository'])
  t.same(problems('packages/a/src/x.ts', `// docs/${md('missing')}`), ['no such file in the repository', 'no such file in the repository'])
  t.same(problems('packages/a/src/x.ts', `// docs/${md('guide')}#nowhere`), ['no such heading'])
  t.same(problems('packages/a/src/x.ts', '// docs' + '/nowhere/'), ['no such file in the repository'])
  t.same(problems(`packages/a/${md('README')}`, `[g](${up(2)}docs/${md('guide')}#safe-mode) [s](#a) [u](https://x.org/y)`), [])
  t.same(problems(`packages/a/${md('README')}`, `[g](${up(2)}docs/${md('guide')}#unsafe-mode)`), ['no such heading', 'link to a heading that does not exist'])
  t.same(problems(`packages/a/${md('README')}`, `[g](${up(1)}gone/file.ts)`), ['link to a file that is not in the repository'])
  t.same(problems(`packages/a/${md('README')}`, `[g](${up(3)}outside)`), ['leaves the repository', 'link leaves the repository'])
  t.same(problems(`packages/a/${md('README')}`, `\`\`\`\n[g](${up(1)}gone/file.ts)\n\`\`\`\n\`[h](nowhere)\``), [], 'code is not a link')
  t.equal(slug('Stable token (`/cgi-bin/stable_token`)'), 'stable-token-cgi-binstable_token')
  t.equal(slug('Routes (public, through the gateway)'), 'routes-public-through-the-gateway')
})

t.test('no file references a path outside the repository, and every docs reference resolves', { skip: listed === null ? 'not a git work tree' : false }, async (t) => {
  const files = listed!
  const texts = new Map<string, string>()
  for (const f of files) {
    const text = readText(f)
    if (text !== null) texts.set(f, text)
  }
  const repo: Repo = { files: new Set(files.filter((f) => existsSync(posix.join(ROOT, f)))), read: (p) => texts.get(p) ?? '' }
  const cache = new Map<string, Set<string>>()
  const problems = [...texts].flatMap(([file, text]) => checkFile(repo, file, text, cache))
  t.ok(texts.size > 100, `${texts.size} text files scanned`)
  t.same(problems.map(format), [], 'dangling or outside references')
})
