import type { InboundMessage } from '@weapp/common'

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
 * The message log (MongoDB `messages`, or memory): one document per message, so storing a redelivered
 * message changes nothing. Outbound sends will live in the same collection with direction 'out'.
 */
export interface MessagesRepository {
  /** 'exists' when a record with this key is already stored (it is left untouched). */
  insertInbound (record: NewInboundRecord): Promise<'inserted' | 'exists'>
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
  /** A user's conversation, newest first; `before` pages by createdAt. */
  listConversation (openid: string, options: { limit: number, before?: Date | undefined }): Promise<InboundRecord[]>
}
