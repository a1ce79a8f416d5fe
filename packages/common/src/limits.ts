/**
 * The session service's request body limit. Every body it takes (a login code, a profile edit, wafer's
 * headers-only calls) is a few hundred bytes. Shared so the gateway refuses larger bodies on the session
 * routes itself, with its stable 413 GATEWAY_BODY_TOO_LARGE, instead of forwarding them to be refused.
 */
export const SESSION_BODY_LIMIT = 16 * 1024
