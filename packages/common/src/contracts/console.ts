import Type, { type Static } from 'typebox'
import { Compile } from 'typebox/compile'
import { AgentIdentitySchema } from './identity.js'

// The agent console's contracts (docs/console.md): what the session service, cs-messaging, realtime-ws, the
// gateway and the console app (packages/console, which imports these types only) agree on. Dates are ISO 8601.

const DateTime = Type.String({ format: 'date-time' })
export const AgentRoleSchema = Type.Union([Type.Literal('admin'), Type.Literal('agent')])

// ---- Agents and their sessions (the session service) ----

/** An agent account as the API shows it; never its password hash. */
export const AgentViewSchema = Type.Object({
  id: Type.String(),
  login: Type.String(),
  displayName: Type.String(),
  role: AgentRoleSchema,
  disabled: Type.Boolean(),
  createdAt: DateTime,
  lastLoginAt: Type.Optional(DateTime)
})

/** `POST /api/console/login` and `GET /api/console/me`: who is logged in and the CSRF token to send back. */
export const ConsoleSessionSchema = Type.Object({
  agent: AgentViewSchema,
  /** Sent back as `x-csrf-token` on every state-changing console request. */
  csrfToken: Type.String(),
  /** Idle expiry, pushed back by use. */
  expiresAt: DateTime,
  absoluteExpiresAt: DateTime
})

/** `POST /internal/agent-sessions/resolve`: the gateway turns a console cookie into an agent identity. */
export const AGENT_RESOLVE_PATH = '/internal/agent-sessions/resolve'
export const AgentResolveRequestSchema = Type.Object({ token: Type.String({ minLength: 1, maxLength: 128 }) }, { maxProperties: 1 })
export const AgentResolveResponseSchema = Type.Object({
  identity: AgentIdentitySchema,
  csrfToken: Type.String(),
  expiresAt: DateTime
})

// ---- Conversations (cs-messaging) ----

/** The user's current send window (docs/wechat/limits.md#send-windows), as of `asOf`. */
export const WindowViewSchema = Type.Object({
  kind: Type.Union([Type.Literal('message'), Type.Literal('session')]),
  remaining: Type.Integer({ minimum: 0 }),
  quota: Type.Integer({ minimum: 1 }),
  expiresAt: DateTime
})

export const AgentRefSchema = Type.Object({ agentId: Type.String(), displayName: Type.String() })

/** One per user (MongoDB `conversations`), updated with every inbound and outbound message. */
export const ConversationSchema = Type.Object({
  openid: Type.String(),
  status: Type.Union([Type.Literal('open'), Type.Literal('resolved')]),
  assignee: Type.Union([AgentRefSchema, Type.Null()]),
  lastAt: DateTime,
  last: Type.Object({
    direction: Type.Union([Type.Literal('in'), Type.Literal('out')]),
    msgType: Type.String(),
    /** A short text for the list: the text itself, `[image]`, a card's title, `[entered: <SessionFrom>]`. */
    preview: Type.String()
  }),
  /** Inbound messages so far; an agent's unread count is inboundCount - (readCounts[agentId] ?? 0). */
  inboundCount: Type.Integer({ minimum: 0 }),
  readCounts: Type.Record(Type.String(), Type.Integer({ minimum: 0 })),
  /** Hand-over to WeChat's official customer-service tool (transfer_customer_service). */
  handover: Type.Union([Type.Literal('none'), Type.Literal('requested'), Type.Literal('official')]),
  /** The send window when the conversation last changed; the conversation view reads it live. */
  window: Type.Union([WindowViewSchema, Type.Null()])
})

/** A message of a conversation as the console shows it. */
export const ConsoleMessageSchema = Type.Object({
  id: Type.String(),
  direction: Type.Union([Type.Literal('in'), Type.Literal('out')]),
  openid: Type.String(),
  msgType: Type.String(),
  createdAt: DateTime,
  /** The push payload (inbound) or WeChat's send body (outbound). */
  message: Type.Record(Type.String(), Type.Unknown()),
  event: Type.Optional(Type.String()),
  /** Outbound: pending (sending) | sent | refused | rejected | failed | unknown. */
  outcome: Type.Optional(Type.String()),
  errcode: Type.Optional(Type.Integer()),
  errorCode: Type.Optional(Type.String()),
  /** Outbound: `agent:<agentId>`, or the admin key id for sends of the admin API. */
  sentBy: Type.Optional(Type.String()),
  sentByName: Type.Optional(Type.String())
})

/** An internal note: never sent to WeChat. */
export const NoteSchema = Type.Object({
  id: Type.String(),
  openid: Type.String(),
  author: AgentRefSchema,
  text: Type.String(),
  createdAt: DateTime
})

/** A canned reply (cs-messaging `canned_replies`): `/shortcut` in the reply box inserts the text. */
export const CannedReplySchema = Type.Object({
  id: Type.String(),
  /** Unique, `[a-z0-9_-]{1,32}`. */
  shortcut: Type.String(),
  text: Type.String()
})

/**
 * A saved mini-program card (cs-messaging `card_templates`). `thumbMediaId` is the thumbnail's latest
 * media_id (cs-messaging keeps the image and uploads it again when WeChat forgot it).
 */
export const CardTemplateSchema = Type.Object({
  id: Type.String(),
  name: Type.String(),
  title: Type.String(),
  pagepath: Type.String(),
  thumbMediaId: Type.String()
})

/**
 * What changed, published by cs-messaging on the bus (`weapp:console`) and relayed by realtime-ws to every
 * console socket, numbered there (`seq`) so a reconnecting console can ask for what it missed.
 */
export const ConsoleEventSchema = Type.Union([
  Type.Object({ type: Type.Literal('conversation'), conversation: ConversationSchema }),
  Type.Object({ type: Type.Literal('message'), message: ConsoleMessageSchema }),
  Type.Object({ type: Type.Literal('note'), note: NoteSchema })
])

// ---- The console socket (realtime-ws `/console/ws`) ----

/** Server → console. */
export const ConsoleServerFrameSchema = Type.Union([
  /** First frame. `epoch` names this realtime-ws process's event numbering; `seq` is its latest event. */
  Type.Object({ type: Type.Literal('welcome'), epoch: Type.String(), seq: Type.Integer(), agent: AgentRefSchema }),
  Type.Object({ type: Type.Literal('event'), seq: Type.Integer(), event: ConsoleEventSchema }),
  /** The events after `hello.after` are no longer held (or the epoch differs): reload by REST. */
  Type.Object({ type: Type.Literal('resync-required') }),
  /** Who else looks at / types in a conversation (never the receiving agent's own entry). */
  Type.Object({ type: Type.Literal('presence'), openid: Type.String(), viewing: Type.Array(AgentRefSchema), typing: Type.Array(AgentRefSchema) })
])

/** Console → server. */
export const ConsoleClientFrameSchema = Type.Union([
  /** After (re)connecting: replay events after `after` of `epoch` when still held, else resync-required. */
  Type.Object({ type: Type.Literal('hello'), epoch: Type.Optional(Type.String()), after: Type.Optional(Type.Integer({ minimum: 0 })) }),
  Type.Object({ type: Type.Literal('viewing'), openid: Type.Union([Type.String({ maxLength: 128 }), Type.Null()]) }),
  Type.Object({ type: Type.Literal('typing'), openid: Type.String({ maxLength: 128 }) })
])

export type AgentView = Static<typeof AgentViewSchema>
export type ConsoleSession = Static<typeof ConsoleSessionSchema>
export type AgentResolveRequest = Static<typeof AgentResolveRequestSchema>
export type AgentResolveResponse = Static<typeof AgentResolveResponseSchema>
export type WindowView = Static<typeof WindowViewSchema>
export type AgentRef = Static<typeof AgentRefSchema>
export type Conversation = Static<typeof ConversationSchema>
export type ConsoleMessage = Static<typeof ConsoleMessageSchema>
export type Note = Static<typeof NoteSchema>
export type CannedReply = Static<typeof CannedReplySchema>
export type CardTemplate = Static<typeof CardTemplateSchema>
export type ConsoleEvent = Static<typeof ConsoleEventSchema>
export type ConsoleServerFrame = Static<typeof ConsoleServerFrameSchema>
export type ConsoleClientFrame = Static<typeof ConsoleClientFrameSchema>

const agentResolveResponseCheck = Compile(AgentResolveResponseSchema)
const clientFrameCheck = Compile(ConsoleClientFrameSchema)

/** A 200 body of the agent resolve as the contract says, or null (the gateway answers 502). */
export function parseAgentResolveResponse (value: unknown): AgentResolveResponse | null {
  return agentResolveResponseCheck.Check(value) ? value : null
}

/** A console socket frame as the contract says, or null. */
export function parseConsoleClientFrame (value: unknown): ConsoleClientFrame | null {
  return clientFrameCheck.Check(value) ? value : null
}
