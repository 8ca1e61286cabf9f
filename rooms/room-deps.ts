/**
 * What server/ hands a room: interfaces only, so rooms never depend on a driver, a metrics library
 * or a logger implementation.
 */
import type { ErrorCode } from "../schema/codes.ts";
import type { HandOffSeat } from "../schema/chat.ts";
import type { AppendMessages } from "./conversation-log.ts";
import type { HistoryStore } from "./history-store.ts";
import type { Authenticator } from "./identity.ts";
import type { RateLimit } from "./plugins/rate-limit.ts";
import type { TextFilter } from "./plugins/text-filter.ts";
import type { UserLimits } from "./plugins/user-limits.ts";
import type { Report } from "../schema/moderation.ts";
import type { Identity, Role } from "./identity.ts";
import type { ModerationChange, ModerationState } from "./moderation.ts";

/** Moderation as a room sees it: decisions from memory, changes as they reach the node. */
export interface RoomModeration {
  /** The node's moderation state, kept current from the store and the cluster. */
  readonly state: ModerationState;
  /** Be told of every change that reaches this node; returns the way to stop. */
  onChange(listener: (change: ModerationChange) => void): () => void;
  /** Moderators and admins: exempt from slow mode, and may delete anyone's message. */
  isExempt(roles: readonly Role[]): boolean;
  /** A message was deleted in a room; a moderator's delete is audited. */
  messageDeleted(by: Identity, conversationId: string, seq: number, asModerator: boolean): Promise<void>;
  /** Record a report once per reporter and message. */
  report(report: Omit<Report, "reportId">): Promise<{ reportId: string; duplicate: boolean }>;
}

/** A structured logger (pino's shape): context object first, then the event text. */
export interface RoomLog {
  child(bindings: Record<string, unknown>): RoomLog;
  debug(context: Record<string, unknown>, message: string): void;
  info(context: Record<string, unknown>, message: string): void;
  warn(context: Record<string, unknown>, message: string): void;
  error(context: Record<string, unknown>, message: string): void;
}

/** The room-side metrics; server/metrics.ts implements them with prom-client. */
export interface RoomMetrics {
  messageAccepted(): void;
  requestRefused(request: string, code: ErrorCode): void;
  fanout(recipients: number): void;
  requestLatency(request: string, seconds: number): void;
  badFrame(): void;
  storeWriteFailed(): void;
  roomCreated(roomName: string): void;
  roomDisposed(roomName: string): void;
  clientJoined(roomName: string): void;
  /** A client left, with its close code (bounded to the known codes by the implementation). */
  clientLeft(roomName: string, closeCode?: number): void;
  /** A room sent its clients `migrate`. */
  migrateSent(roomName: string): void;
  /**
   * A draining room's hand-off: `replaced` (a live room on another node before migrate),
   * `fallback` (moved the old way) or `empty` (nobody seated: released and closed, nothing opened).
   */
  handOff(outcome: "replaced" | "fallback" | "empty"): void;
  /** How long a draining room refused sends: from closing its log to `migrate` (or to moving its clients away). */
  handOffPause(seconds: number): void;
  /** A seat's first sync started above seq 0: the client resumed a conversation it had seen. */
  rejoined(roomName: string): void;
  pendingSends(delta: number): void;
  /** A join decided: `joined`, or the refusal code. */
  joinOutcome(roomName: string, outcome: string): void;
  notifiesPublished(count: number): void;
  /** An inbox notify could not be published (Redis down). */
  notifyFailed(): void;
  /** A seat was refused because its authorisation was for another room (or missing). */
  seatRefused(roomName: string): void;
  /** Unpaired bidi controls removed from user text. */
  bidiControlsRemoved(count: number): void;
}

/**
 * What the matchmaker tells a room's static onAuth about the room a join seats into, when the join
 * names a room (joinById) rather than a conversation: the room's routing value (its conversation
 * id, or the inbox's user id). server/ sets it on the auth context; absent for joins by options.
 */
export type SeatTarget = { roomName: string; routeValue: string };

/** The auth context property carrying the SeatTarget. */
export const SEAT_TARGET = "parleySeatTarget";

/** Read the SeatTarget from an auth context, if any. */
export function seatTargetOf(context: unknown): SeatTarget | undefined {
  const target = (context as Record<string, unknown> | undefined)?.[SEAT_TARGET];
  return typeof target === "object" && target !== null ? (target as SeatTarget) : undefined;
}

/**
 * What a draining room leaves for the room that continues its conversation: its last seq, and the
 * history epoch that seq belongs to (absent in notes of 0.6 and earlier). A note of another epoch
 * than the store's (a restore happened since) is not used.
 */
export type Handover = { conversationId: string; lastSeq: number; epoch?: string };

export type ChatRoomDeps = {
  /** False on ROLE=api: rooms must not be created here, even by the matchmaker's local fallback. */
  hostsRooms: boolean;
  /**
   * Give up this room's claim on its conversation (or inbox) now, so that a room on another node can
   * take it while this one drains. A no-op on a single node.
   */
  releaseRoute(roomId: string, handover?: Handover): Promise<void>;
  /**
   * The handover a draining room left for its conversation, taken once: the next room starts from
   * it instead of asking the store for the last seq. Undefined when there is none.
   */
  takeHandover(conversationId: string): Promise<Handover | undefined>;
  /**
   * Drain, make before break: open the conversation's room on another live node now (after this
   * room released its route), so clients told `migrate` land on a live room at once. Answers the
   * replacement when a room on another node holds the conversation, with a seat held there for
   * each of `seats` (the clients' authorisations, in order; undefined where none was held);
   * undefined when no node could (one node, no other host): the room then moves its clients the old way.
   * `handover` goes with the call (the route was released without it): the replacement starts from it.
   */
  openReplacement(conversationId: string, seats: readonly unknown[], handover?: Handover): Promise<Replacement | undefined>;
  /**
   * Drain pacing: run a room's hand-off when its turn comes, a few at a time, so a whole node's
   * rooms do not hit the other nodes and the store at once (see server/drain-pace.ts).
   */
  paceHandOff(handOff: () => Promise<void>): Promise<void>;
  /** Time left until this node's drain must be over (DRAIN_TIMEOUT_MS); infinite while not draining. */
  drainTimeLeftMs(): number;
  authenticator: Authenticator;
  history: HistoryStore;
  /** Where durable writes go: the store, or a group commit in front of it. */
  append: AppendMessages;
  sendLimit: RateLimit;
  /** Per-user bounds on seats, conversations, joins and room creations on this node. */
  userLimits: UserLimits;
  moderation: RoomModeration;
  /** The content filter (TEXT_FILTER): masks or refuses profanity, or passes everything. */
  textFilter: TextFilter;
  requestLimit: RateLimit;
  limits: {
    maxTextChars: number;
    maxPendingSendsPerRoom: number;
    storeTimeoutMs: number;
    maxFramesPerSec: number;
    /** How long a room with no clients stays before it is disposed. */
    roomIdleMs: number;
    /**
     * After a make-before-break `migrate`, the old connections stay at most this long (then close),
     * and never past the drain's end less a second (a room handed over late in a slow drain).
     */
    handOffLingerMs: number;
  };
  log: RoomLog;
  metrics: RoomMetrics;
};

/** A conversation's room opened on another node for a hand-off, and the seats it holds for the old room's clients. */
export type Replacement = { seats: ReadonlyArray<HandOffSeat | undefined> };
