// The fixed-window counter lives in @weapp/common (session-auth/), shared with realtime-ws's failure limit.
export { INCR_WINDOW, incrWindow } from '@weapp/common'
