// The auth cache's LRU lives in @weapp/common (session-auth/), shared with realtime-ws's direct upgrades.
export { TtlLru } from '@weapp/common'
