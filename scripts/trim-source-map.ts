// Keeps a bundle's source map to our own code. Node's --enable-source-maps decodes the whole map of a file the
// first time an error's stack has a frame in it, and keeps it for the life of the process: one small array
// per mapping segment. The bundles' maps had about 400,000 segments, 96 % of them in node_modules, and the
// gateway grew by 45 MB (127 MB RSS instead of 78) after its first logged error (a heap snapshot: SourceMap
// #mappings, retained by the module). Trimmed, frames in our sources still map to src/…ts lines; frames in
// a dependency keep their position in dist/server.js, with the function's name (the bundle keeps names).
import { readFileSync, writeFileSync } from 'node:fs'
import { decode, encode, type SourceMapSegment } from '@jridgewell/sourcemap-codec'

interface SourceMapFile { version: number, sources: string[], names?: string[], mappings: string, [key: string]: unknown }

/** Rewrites the map at `path` without the segments (and sources) under node_modules; returns the segments kept. */
export function trimSourceMap (path: string): { kept: number, dropped: number } {
  const map = JSON.parse(readFileSync(path, 'utf8')) as SourceMapFile
  const newIndex = new Map<number, number>()
  const sources: string[] = []
  map.sources.forEach((source, i) => {
    if (source.includes('node_modules/')) return
    newIndex.set(i, sources.length)
    sources.push(source)
  })
  let kept = 0
  let dropped = 0
  const lines = decode(map.mappings).map((line) => line.flatMap((segment): SourceMapSegment[] => {
    if (segment.length === 1) return []
    const source = newIndex.get(segment[1])
    if (source === undefined) { dropped++; return [] }
    kept++
    const moved = [...segment] as SourceMapSegment
    moved[1] = source
    return [moved]
  }))
  writeFileSync(path, JSON.stringify({ ...map, sources, mappings: encode(lines) }))
  return { kept, dropped }
}
