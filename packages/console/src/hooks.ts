import { useEffect, useState } from 'preact/hooks'
import { parseRoute, type Route } from './router.js'

/** The current time, refreshed every `intervalMs` (the meter's countdown). */
export function useNow (intervalMs = 1000): number {
  const [now, setNow] = useState(() => Date.now())
  useEffect(() => {
    const timer = setInterval(() => { setNow(Date.now()) }, intervalMs)
    return () => { clearInterval(timer) }
  }, [intervalMs])
  return now
}

/** The hash route, following the address bar. */
export function useRoute (): Route {
  const [route, setRoute] = useState(() => parseRoute(window.location.hash))
  useEffect(() => {
    const onChange = (): void => { setRoute(parseRoute(window.location.hash)) }
    window.addEventListener('hashchange', onChange)
    return () => { window.removeEventListener('hashchange', onChange) }
  }, [])
  return route
}

/** An error's text for the agent: an ApiError's message and code, anything else's message. */
export function errorText (err: unknown): string {
  if (typeof err === 'object' && err !== null && 'describe' in err && typeof err.describe === 'function') return String(err.describe())
  return err instanceof Error ? err.message : String(err)
}
