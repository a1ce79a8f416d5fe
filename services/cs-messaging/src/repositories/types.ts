import type { InboundMessage, OutboundMessage } from '@weapp/common'

/** Processing steps after storing, each done at most once per message (idempotent redelivery). */
export type StepName = 'published' | 'autoReply'

export interface StepState {
  /** claimed: started, outcome unknown if the worker died; the others are final. */
  status: 'claimed' | 'done' | 'sent' | 'skipped'
  at: Date
  /** Why a step was skipped (window closed, no sender, …) or what it did. */
  detail?: string
}

/** One inbound message of a conversation, keyed by its de-duplication key. */
export interface InboundRecord {
  key: string
  direction: 'in'
  /** The user (FromUserName). */
  openid: string
  msgType: string
  event?: string
  message: InboundMessage
  /** CreateTime: when the user acted. */
  createdAt: Date
  /** When the push was answered. */
  receivedAt: Date
  storedAt: Date
  steps: Partial<Record<StepName, StepState>>
}

export type NewInboundRecord = Omit<InboundRecord, 'steps' | 'direction'>

/**
 * What became of an outbound send:
 * - pending: asked for, WeChat's answer not recorded yet (a process that died mid-send leaves it so);
 * - sent: WeChat accepted it;
 * - refused: our send-window check refused it, WeChat was not called;
 * - rejected: WeChat answered an errcode (45015, 45047, 40003, 40001 twice, …): not sent;
 * - failed: not sent for another reason (WeChat busy after the retries, no access_token, no sender);
 * - unknown: the call timed out or broke after it may have reached WeChat: the user may have it.
 */
export type OutboundOutcome = 'pending' | 'sent' | 'refused' | 'rejected' | 'failed' | 'unknown'

/** One customer-service message sent (or attempted) by the admin API. */
export interface OutboundRecord {
  /** `out:<uuid>`: the id the send API answers with. */
  key: string
  direction: 'out'
  /** The user (touser). */
  openid: string
  msgType: OutboundMessage['msgtype']
  message: OutboundMessage
  /** When the send was asked for. */
  createdAt: Date
  /** Who asked: the admin key id, `agent:<agentId>` (the console), `auto:welcome` / `auto:keyword`. */
  sentBy: string
  /** The console agent's display name when an agent sent it. */
  sentByName?: string
  /** Sent with force: true (our window check did not stop it). */
  forced: boolean
  outcome: OutboundOutcome
  /** WeChat's errcode, when it answered one. */
  errcode?: number
  /** The error code the API answered with (CS_SEND_WINDOW_CLOSED, WECHAT_SEND_QUOTA_EXCEEDED, …). */
  errorCode?: string
  /** When the outcome became known. */
  completedAt?: Date
}

export type NewOutboundRecord = Omit<OutboundRecord, 'direction'>

/** The final state of an outbound record. */
export interface OutboundCompletion {
  outcome: Exclude<OutboundOutcome, 'pending'>
  at: Date
  errcode?: number
  errorCode?: string
}

/** Anything in the message log. */
export type MessageRecord = InboundRecord | OutboundRecord

/** Position in a conversation (newest first): messages strictly older than this one. */
export interface MessageCursor {
  createdAt: Date
  key: string
}

/** Position in the conversation list (most recent first): conversations whose last message is older. */
export interface ConversationCursor {
  lastAt: Date
  openid: string
}

/**
 * The message log (MongoDB `messages`, or memory): one document per message, inbound (keyed by the
 * de-duplication key, so storing a redelivered message changes nothing) and outbound (`out:<uuid>`).
 * Conversations are ordered by createdAt, then key (both descending), so pages never skip or repeat
 * messages that share a timestamp.
 */
export interface MessagesRepository {
  /** 'exists' when a record with this key is already stored (it is left untouched). */
  insertInbound (record: NewInboundRecord): Promise<'inserted' | 'exists'>
  /** The inbound message with this de-duplication key (null for unknown and outbound keys). */
  findByKey (key: string): Promise<InboundRecord | null>
  /**
   * Marks a step as started unless it has a state already, or only a claim made before `staleBefore`
   * (a worker that died mid-step); true when this call marked it.
   */
  claimStep (key: string, step: StepName, at: Date, staleBefore?: Date): Promise<boolean>
  /** Records the outcome of a step (overwrites a claim). */
  completeStep (key: string, step: StepName, state: StepState): Promise<void>
  /** Forgets a claim so a retry can run the step again. */
  releaseStep (key: string, step: StepName): Promise<void>
  /** Records an outbound send; throws MessageKeyExistsError when its key is taken (nothing is changed). */
  insertOutbound (record: NewOutboundRecord): Promise<void>
  /** Sets the final outcome of an outbound send. */
  completeOutbound (key: string, completion: OutboundCompletion): Promise<void>
  /** The outbound send with this key (null for unknown and inbound keys). */
  findOutbound (key: string): Promise<OutboundRecord | null>
  /** A user's conversation, both directions, newest first; `before` pages (a Date: older than that instant). */
  listConversation (openid: string, options: { limit: number, before?: MessageCursor | Date | undefined }): Promise<MessageRecord[]>
  /** The messages with these keys, either direction, in no particular order (unknown keys are left out). */
  findMany (keys: string[]): Promise<MessageRecord[]>
}
