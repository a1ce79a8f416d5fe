// A small static check of operator-written regular expressions (AUTO_REPLY_RULES), run at boot: JavaScript
// regexes backtrack, and a pattern like `(a+)+$` takes exponential time on a text of a's that does not end
// the way it wants. The rules run synchronously on user text, so such a pattern would stall the event loop.
// Refused, with the construct named:
// - a repeated group that contains a repetition (star height > 1: `(a+)+`, `(a*b?)*`, `(?:\d{1,3})+`);
// - alternation inside a group repeated without bound (`(a|ab)*`: overlapping branches backtrack the same way);
// - backreferences (`\1`, `\k<name>`) and lookarounds (`(?=`, `(?!`, `(?<=`, `(?<!`): not needed for
//   keyword matching, and they defeat this kind of reasoning.
// What passes can still be polynomial (`\d+\d+x`); the matched text is capped (MAX_MATCHED_CHARS in rules.ts).

interface Group {
  /** Something inside repeats (a quantifier with a maximum above one). */
  repeats: boolean
  /** A `|` directly inside this group. */
  alternation: boolean
}

interface Quantifier {
  /** Characters the quantifier takes (including a lazy `?`). */
  length: number
  /** The maximum is above one (`*`, `+`, `{2,}`, `{1,3}`). */
  repeats: boolean
  /** No maximum (`*`, `+`, `{n,}`). */
  unbounded: boolean
}

/** The quantifier at `i`, or null when there is none. */
function quantifierAt (pattern: string, i: number): Quantifier | null {
  const c = pattern[i]
  let q: Quantifier | null = null
  if (c === '*' || c === '+') q = { length: 1, repeats: true, unbounded: true }
  else if (c === '?') q = { length: 1, repeats: false, unbounded: false }
  else if (c === '{') {
    const m = /^\{(\d+)(,(\d*))?\}/.exec(pattern.slice(i))
    if (m === null) return null
    const min = Number(m[1])
    const max = m[2] === undefined ? min : m[3] === '' ? Infinity : Number(m[3])
    q = { length: m[0].length, repeats: max > 1, unbounded: max === Infinity }
  }
  if (q !== null && pattern[i + q.length] === '?') q.length++
  return q
}

/** Why `pattern` may backtrack catastrophically (a phrase), or undefined when it passes. */
export function unsafeRegexReason (pattern: string): string | undefined {
  const stack: Group[] = [{ repeats: false, alternation: false }]
  let i = 0
  while (i < pattern.length) {
    const c = pattern[i]!
    let atomEnd = i + 1
    let closed: Group | null = null
    if (c === '\\') {
      const next = pattern[i + 1]
      if (next !== undefined && /[1-9]/.test(next)) return 'a backreference'
      if (next === 'k' && pattern[i + 2] === '<') return 'a backreference'
      // \u{…} and \p{…} are one atom: skip the braces so they are not read as a quantifier.
      if ((next === 'u' || next === 'p' || next === 'P') && pattern[i + 2] === '{') {
        const end = pattern.indexOf('}', i + 3)
        atomEnd = end === -1 ? pattern.length : end + 1
      } else atomEnd = i + 2
    } else if (c === '[') {
      // A class is one atom: find its closing bracket (escapes inside are skipped).
      let j = i + 1
      if (pattern[j] === '^') j++
      while (j < pattern.length && pattern[j] !== ']') j += pattern[j] === '\\' ? 2 : 1
      atomEnd = j + 1
    } else if (c === '(') {
      if (pattern.startsWith('(?=', i) || pattern.startsWith('(?!', i) || pattern.startsWith('(?<=', i) || pattern.startsWith('(?<!', i)) return 'a lookaround'
      stack.push({ repeats: false, alternation: false })
      // Skip the group's header: (?: or (?<name>.
      if (pattern.startsWith('(?:', i)) i += 3
      else if (pattern.startsWith('(?<', i)) i = Math.max(i + 3, pattern.indexOf('>', i) + 1)
      else i++
      continue
    } else if (c === ')') {
      if (stack.length === 1) return undefined // unbalanced: RegExp itself refuses it
      closed = stack.pop()!
    } else if (c === '|') {
      stack[stack.length - 1]!.alternation = true
      i++
      continue
    }
    const q = quantifierAt(pattern, atomEnd)
    const parent = stack[stack.length - 1]!
    if (q !== null && q.repeats && closed !== null) {
      if (closed.repeats) return 'a repeated group that contains a repetition (nested quantifiers)'
      if (closed.alternation && q.unbounded) return 'alternation inside a group repeated without bound'
    }
    if ((q?.repeats ?? false) || (closed?.repeats ?? false)) parent.repeats = true
    i = atomEnd + (q?.length ?? 0)
  }
  return undefined
}
