import { XMLParser, XMLValidator } from 'fast-xml-parser'
import { BodyMalformedError, XmlForbiddenError } from '../errors.js'
import { FlatXmlError, scanFlatXml } from './flat-xml.js'

/** WeChat's XML nests two or three levels (subscribe-message List items). */
export const MAX_XML_DEPTH = 16

const FORBIDDEN = /<!(?:DOCTYPE|ENTITY)/i

// Everything as strings, nothing expanded: no entities (processEntities false), no DOCTYPE (refused before
// parsing), attributes and processing instructions ignored, CDATA merged into the text it stands for.
const parser = new XMLParser({
  ignoreAttributes: true,
  parseTagValue: false,
  parseAttributeValue: false,
  processEntities: false,
  htmlEntities: false,
  ignoreDeclaration: true,
  ignorePiTags: true,
  trimValues: false,
  maxNestedTags: MAX_XML_DEPTH,
  isArray: () => false
})

/** True when the text declares a DOCTYPE or an entity: such XML is never handed to the parser. */
export function hasForbiddenXml (text: string): boolean {
  return FORBIDDEN.test(text)
}

/**
 * Parses `<xml>…</xml>` into an object of strings (nested elements become objects, repeated ones
 * arrays). Rejects DOCTYPE/ENTITY, malformed XML, a root other than `xml` and reserved names.
 *
 * Every ordinary push is flat and goes through the strict scanner (flat-xml.ts) alone. Whatever it
 * refuses (nested `List` items, repeated elements, entity references kept verbatim, and every malformed
 * body) goes to the full parser below, which decides as it always did: same results, same error codes.
 */
export function parsePushXml (text: string): Record<string, unknown> {
  if (hasForbiddenXml(text)) throw new XmlForbiddenError()
  try {
    return scanFlatXml(text)
  } catch (err) {
    if (!(err instanceof FlatXmlError)) throw err
  }
  return parseXmlFull(text)
}

/** The full parser (fast-xml-parser): nested and repeated elements; exported for the differential tests. */
export function parseXmlFull (text: string): Record<string, unknown> {
  if (hasForbiddenXml(text)) throw new XmlForbiddenError()
  const valid = XMLValidator.validate(text, { allowBooleanAttributes: false })
  if (valid !== true) throw new BodyMalformedError(`invalid XML (${valid.err.code} at line ${valid.err.line})`)
  let doc: unknown
  try {
    doc = parser.parse(text)
  } catch (err) {
    // maxNestedTags and reserved names (__proto__, constructor) are reported by throwing.
    throw new BodyMalformedError(`XML refused by the parser: ${String((err as Error).message).slice(0, 120)}`)
  }
  const root = (doc as Record<string, unknown>).xml
  const keys = Object.keys(doc as object)
  if (keys.length !== 1 || typeof root !== 'object' || root === null || Array.isArray(root)) {
    throw new BodyMalformedError('XML root must be a single <xml> element with fields')
  }
  return clean(root as Record<string, unknown>)
}

/** Drops the whitespace between elements (kept as #text since values are not trimmed). */
function clean (node: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  for (const [name, value] of Object.entries(node)) {
    if (name === '#text') {
      if (typeof value === 'string' && value.trim() === '') continue
      out[name] = value
    } else if (Array.isArray(value)) {
      out[name] = value.map((v) => typeof v === 'object' && v !== null ? clean(v as Record<string, unknown>) : v)
    } else if (typeof value === 'object' && value !== null) {
      out[name] = clean(value as Record<string, unknown>)
    } else {
      out[name] = value
    }
  }
  return out
}
