// The failed-lookup limit lives in @weapp/common (session-auth/), shared with realtime-ws's direct upgrades.
export { AUTH_FAILURE_KEY_PREFIX, AUTH_FAILURE_MAX_KEYS, AuthFailureLimiter, type AuthFailureLimiterOptions } from '@weapp/common'
