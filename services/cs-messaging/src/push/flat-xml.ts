/**
 * A strict scanner for the flat XML WeChat pushes (docs/wechat/push.md#formats):
 *
 *   [<?xml version="1.0" …?>] <xml> ( <Tag><![CDATA[…]]></Tag> | <Tag>text</Tag> | <Tag/> )+ </xml>
 *
 * with optional whitespace between the parts. Values are strings, exactly as written (a CDATA section's
 * content verbatim, `<` and `]]` included) except for XML's line-end normalization (CRLF, CR → LF). Anything else is refused with a FlatXmlError: DOCTYPE, ENTITY,
 * comments, processing instructions other than the leading declaration, attributes, nested elements,
 * mixed content, more than one CDATA section, text around a CDATA section, `&` in text (no entity is
 * ever expanded), repeated tags, reserved names, an empty root, content after `</xml>`, unterminated
 * input. It allocates one string per field and never backtracks: linear in the input.
 */
export class FlatXmlError extends Error {
  override name = 'FlatXmlError'
}

const CDATA_OPEN = '<![CDATA['
const DECLARATION = /^<\?xml\s+version\s*=\s*(["'])1\.\d\1(?:\s+encoding\s*=\s*(["'])[A-Za-z][A-Za-z0-9._-]*\2)?(?:\s+standalone\s*=\s*(["'])(?:yes|no)\3)?\s*\?>$/
/** Names an object must not get as own keys from a push. */
const RESERVED = new Set(['__proto__', 'constructor', 'prototype'])

function fail (reason: string, at: number): never {
  throw new FlatXmlError(`${reason} at offset ${at}`)
}

function isSpace (c: number): boolean {
  return c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09
}

function skipSpace (text: string, i: number): number {
  while (i < text.length && isSpace(text.charCodeAt(i))) i++
  return i
}

/** [A-Za-z_] */
function isNameStart (c: number): boolean {
  return (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || c === 0x5f
}

/** [A-Za-z0-9_.-] */
function isNameChar (c: number): boolean {
  return isNameStart(c) || (c >= 0x30 && c <= 0x39) || c === 0x2e || c === 0x2d
}

export function scanFlatXml (text: string): Record<string, string> {
  const n = text.length
  let i = 0
  if (text.startsWith('<?', 0)) {
    const end = text.indexOf('?>', 2)
    if (end < 0) fail('unterminated declaration', 0)
    if (!DECLARATION.test(text.slice(0, end + 2))) fail('processing instruction or malformed declaration', 0)
    i = end + 2
  }
  i = skipSpace(text, i)
  if (!text.startsWith('<xml>', i)) fail('the root must be <xml> without attributes', i)
  i += 5
  const fields: Record<string, string> = {}
  let count = 0
  for (;;) {
    i = skipSpace(text, i)
    if (i >= n) fail('unterminated <xml>', i)
    if (text.charCodeAt(i) !== 0x3c) fail('text directly inside <xml>', i)
    if (text.startsWith('</xml>', i)) { i += 6; break }
    // <Name
    let j = i + 1
    if (j >= n || !isNameStart(text.charCodeAt(j))) fail('not an element (comment, DOCTYPE, PI, bad name or stray close tag)', i)
    j++
    while (j < n && isNameChar(text.charCodeAt(j))) j++
    const name = text.slice(i + 1, j)
    if (RESERVED.has(name)) fail(`reserved element name ${name}`, i)
    if (Object.hasOwn(fields, name)) fail(`repeated element ${name}`, i)
    const c = text.charCodeAt(j)
    let value: string
    if (c === 0x2f /* / */) {
      if (text.charCodeAt(j + 1) !== 0x3e) fail('malformed empty-element tag', j)
      value = ''
      i = j + 2
    } else {
      if (c !== 0x3e /* > */) fail(j >= n ? 'unterminated tag' : 'attributes are not allowed', j)
      j++
      if (text.startsWith(CDATA_OPEN, j)) {
        const start = j + CDATA_OPEN.length
        const end = text.indexOf(']]>', start)
        if (end < 0) fail('unterminated CDATA section', j)
        value = text.slice(start, end)
        j = end + 3
      } else {
        const lt = text.indexOf('<', j)
        if (lt < 0) fail(`unterminated element ${name}`, j)
        value = text.slice(j, lt)
        if (value.includes('&')) fail('entity or character references are not allowed', j)
        if (value.includes(']]>')) fail(']]> in text', j)
        j = lt
      }
      // </Name>
      if (text.charCodeAt(j) !== 0x3c || text.charCodeAt(j + 1) !== 0x2f || !text.startsWith(name, j + 2) || text.charCodeAt(j + 2 + name.length) !== 0x3e) {
        fail(j >= n ? `unterminated element ${name}` : `expected </${name}> (nested elements, mixed content and several CDATA sections are not allowed)`, j)
      }
      i = j + 3 + name.length
    }
    // XML line-end normalization (as every XML parser does, CDATA included): CRLF and lone CR become LF.
    fields[name] = value.includes('\r') ? value.replace(/\r\n?/g, '\n') : value
    count++
  }
  if (count === 0) fail('<xml> has no fields', i)
  if (skipSpace(text, i) !== n) fail('content after </xml>', i)
  return fields
}
