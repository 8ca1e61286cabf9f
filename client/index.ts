/**
 * Parley client kit: a resilient client for protocol v1 on @colyseus/sdk 0.18, for browsers and
 * Node. See client/README.md.
 */
export { ParleyClient, type ParleyClientEvents, type ParleyClientOptions } from "./parley-client.ts";
export { Conversation, newClientMsgId, type ConversationEvents, type ConversationOptions } from "./conversation.ts";
export { Inbox, type InboxEvents } from "./inbox.ts";
export { ParleyError, type ParleyErrorCode } from "./errors.ts";
export { Emitter } from "./emitter.ts";
export { SeqTracker, type SeqTrackerOptions } from "./seq-tracker.ts";
export { Outbox, type OutboxEntry, type OutboxOptions } from "./outbox.ts";
export { decideAfterFailure, type AttemptFailure, type SendDecision } from "./send-policy.ts";
export { backoffDelayMs, DEFAULT_BACKOFF, type BackoffOptions } from "./backoff.ts";
export { EndpointRing } from "./endpoints.ts";
export { createSdkConnector, JoinFailure, RequestFailure, type Connector, type RoomHandle } from "./room-handle.ts";
export type { ConnectionState, SessionTiming } from "./room-session.ts";
export type { TraceEvent, TraceSink } from "./trace.ts";
export type { ChatServerMessages, Message, MessagePage, Refusal, RefusalCode, SendAck, UnreadReply } from "./protocol.ts";
