// The helpers every package's tests share (dev-only: never built, never in a production image).
export type { Teardown } from './teardown.js'
export { waitFor, type WaitForOptions } from './wait-for.js'
export { DEFAULT_CLOCK_START, ManualClock, RealTimeClock, type TestClock } from './clocks.js'
export { callInternal, callPublic, internalHeaders, type Injectable, type InjectRequest, type InternalCall, type PublicCall } from './inject.js'
export { listenLocal, localUrl, type Listenable } from './listen.js'
export { startSimulator, type RunningSimulator } from './simulator.js'
export { rawRequest, type RawReply, type RawRequestInit } from './raw-request.js'
