export { buildSimulator, DEFAULT_SIM_APP, type SimulatorOptions } from './app.js'
export { SimControl, type SimControlOptions } from './control-client.js'
export { SimState, type SimApp, type SimStateOptions } from './state.js'
export type { Fault, FaultSpec } from './faults.js'
export type {
  LoginCodeRequest, LoginCodeResult, PhoneCodeRequest, PhoneCodeResult, PushConfig, PushConfigRequest, SentResult, SimPushRequest,
  SimPushResult, SimStats, UserActionRequest, UserActionResult, UserInfoBundle, UserMediaRequest, UserMediaResult, UserRef
} from './types.js'
export type { SendWindow, SentMessage, UserActionKind } from './conversations.js'
export {
  buildPush, evaluateReply, PUSH_TAMPERS, sendPush, userActionForMessage,
  type BuiltPush, type PushAttempt, type PushFormat, type PushMessage, type PushMode, type PushOptions, type PushReply,
  type PushResult, type PushTamper, type PushTarget, type ReplyContext, type ReplyVerdict
} from './push-sender.js'
export { parseFlatXml, serializeMessage } from './push-format.js'
export * from './errors.js'
