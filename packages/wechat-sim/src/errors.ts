// Every error this package raises. Codes are stable: never reuse one for another meaning.
// Shaped like @fastify/error's (code, statusCode) so @weapp/common's error handler answers them.

export class SimError extends Error {
  readonly code: string
  readonly statusCode: number

  constructor (code: string, statusCode: number, message: string) {
    super(message)
    this.name = 'SimError'
    this.code = code
    this.statusCode = statusCode
  }
}

export class UnknownAppError extends SimError {
  constructor (appId: string) { super('SIM_UNKNOWN_APP', 400, `Unknown appId: ${appId}`) }
}

export class UnknownApiPathError extends SimError {
  constructor (path: string) { super('SIM_UNKNOWN_API_PATH', 400, `No simulated API at ${path}`) }
}

export class FaultInvalidError extends SimError {
  constructor (why: string) { super('SIM_FAULT_INVALID', 400, `Invalid fault: ${why}`) }
}

export class SimOptionsInvalidError extends SimError {
  constructor (why: string) { super('SIM_OPTIONS_INVALID', 500, `Invalid simulator options: ${why}`) }
}

export class UnknownUserError extends SimError {
  constructor (openid: string, appId: string) { super('SIM_UNKNOWN_USER', 400, `No simulated user of ${appId} has the openid ${openid}`) }
}

export class PushNotConfiguredError extends SimError {
  constructor (appId: string) { super('SIM_PUSH_NOT_CONFIGURED', 400, `No push URL/token for ${appId}: give them in the request or through /sim/push-config`) }
}

export class PushInvalidError extends SimError {
  constructor (why: string) { super('SIM_PUSH_INVALID', 400, `Invalid push: ${why}`) }
}

/** Raised by SimControl when the control API answers with a non-2xx status. */
export class SimControlError extends SimError {
  readonly body: unknown

  constructor (method: string, path: string, status: number, body: unknown) {
    const detail = typeof body === 'object' && body !== null && 'message' in body ? `: ${String((body as { message: unknown }).message)}` : ''
    super('SIM_CONTROL_FAILED', status, `${method} ${path} answered ${status}${detail}`)
    this.body = body
  }
}
