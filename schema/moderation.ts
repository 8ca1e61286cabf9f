/**
 * Moderation on the wire (protocol 1.1): the action body of `POST /v1/moderation/actions` with its
 * per-type rules, the audit entry and report shapes of the listings, and the block route.
 */
import { z } from "zod";
import { CLIENT_MSG_ID, Limits, type Message } from "./chat.ts";

/** Every moderation action type. */
export const ModerationActionTypes = ["mute", "unmute", "shadow_mute", "ban", "unban", "kick", "delete", "slow_mode"] as const;
export type ModerationActionType = (typeof ModerationActionTypes)[number];

const name = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, "must be 1..64 of A-Za-z0-9_-");
/** Ten years: the longest duration an action may have (no duration: until lifted). */
const MAX_DURATION_MS = 10 * 365 * 24 * 3600 * 1000;

/** The body of POST /v1/moderation/actions. Unknown fields are refused. */
export const moderationActionBody = z
  .object({
    actionId: z.string().regex(CLIENT_MSG_ID, "actionId must be 1..64 of A-Za-z0-9_-.:"),
    type: z.enum(ModerationActionTypes, { error: `type must be one of ${ModerationActionTypes.join(", ")}` }),
    userId: name.optional(),
    conversationId: z.string().min(1).max(200).optional(),
    seq: z.number().int().min(1).max(Number.MAX_SAFE_INTEGER).optional(),
    durationMs: z.number().int().min(1).max(MAX_DURATION_MS).optional(),
    intervalMs: z
      .number()
      .int()
      .min(0)
      .max(24 * 3600 * 1000)
      .optional(),
    reason: z.string().max(Limits.reportReasonMax).optional(),
  })
  .strict();
export type ModerationActionBody = z.infer<typeof moderationActionBody>;

/** Fields each type needs (beyond actionId and type). */
export const requiredFields: Record<ModerationActionType, ReadonlyArray<keyof ModerationActionBody>> = {
  mute: ["userId"],
  unmute: ["userId"],
  shadow_mute: ["userId"],
  ban: ["userId"],
  unban: ["userId"],
  kick: ["userId", "conversationId"],
  delete: ["conversationId", "seq"],
  slow_mode: ["conversationId", "intervalMs"],
};

/** Reply to an action. */
export type ModerationActionReply = { actionId: string; type: ModerationActionType; at: string; duplicate: boolean };

/** One entry of the audit log: who did what, when, why, until when. */
export type AuditEntry = {
  actionId: string;
  type: ModerationActionType;
  userId?: string;
  conversationId?: string;
  seq?: number;
  intervalMs?: number;
  /** Who took the action (the actor's user id). */
  by: string;
  reason?: string;
  /** ISO 8601. */
  at: string;
  /** ISO 8601; absent: until lifted (or no duration applies). */
  until?: string;
};

/** A report of a message, with the message and up to 10 before it as stored. */
export type Report = { reportId: string; conversationId: string; seq: number; reporterId: string; reason: string; at: string; context: Message[] };

/**
 * How the ops console resolved a report: dismissed, or acted on with the moderation action of
 * `actionId`. Console only (its private API): `GET /v1/moderation/reports` leaves it out.
 */
export type ReportResolution = {
  outcome: "dismissed" | "acted";
  /** Who resolved it (the operator's user id). */
  by: string;
  /** ISO 8601. */
  at: string;
  /** The action taken, when `outcome` is "acted". */
  actionId?: string;
};
