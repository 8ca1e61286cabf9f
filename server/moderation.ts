/**
 * Moderation on a node: takes actions (validated, rate-limited per actor, idempotent by actionId,
 * audited), writes them to the store, and publishes each change on the cluster so every node applies
 * it to its in-memory state within a publish's time. Loads the state from the store at start, after
 * Redis reconnects, and every `reloadMs`, so a node that missed a publish catches up.
 */
import type { Presence } from "@colyseus/core";
import { RateLimiterMemory, RateLimiterRes } from "rate-limiter-flexible";
import { parseConversationId } from "../rooms/conversation-id.ts";
import type { HistoryStore } from "../rooms/history-store.ts";
import type { Identity } from "../rooms/identity.ts";
import { ModerationState, type ModerationChange, type Sanction } from "../rooms/moderation.ts";
import type { ModerationStore } from "../rooms/moderation-store.ts";
import type { RoomModeration } from "../rooms/room-deps.ts";
import { withTimeout } from "../rooms/timeout.ts";
import { RefusalError } from "../schema/codes.ts";
import { moderationActionBody, requiredFields, type AuditEntry, type ModerationActionBody, type ModerationActionReply } from "../schema/moderation.ts";
import type { Logger } from "./logger.ts";
import type { Metrics } from "./metrics.ts";

/** The presence channel moderation changes travel on. */
export const MODERATION_CHANNEL = "parley:moderation";

export type ModerationOptions = {
  store: ModerationStore;
  history: HistoryStore;
  presence: Presence;
  metrics: Metrics;
  logger: Logger;
  actionsPerMinute: number;
  storeTimeoutMs: number;
  /** @default 30000 */
  reloadMs?: number;
};

export type Moderation = RoomModeration & {
  /** The store, for the audit log and report listings. */
  readonly store: ModerationStore;
  /** Take an action for `actor` (roles checked by the caller). Replies once every node can see it. */
  act(actor: Identity, body: unknown): Promise<ModerationActionReply>;
  /** Block or unblock, for the user `userId` themself. */
  setBlock(userId: string, blockedId: string, blocked: boolean): Promise<void>;
  /** Reload everything from the store now (Redis came back, say). */
  reload(reason: string): Promise<void>;
  start(): Promise<void>;
  stop(): void;
};

const ROLES_WITH_EXEMPTION = new Set(["moderator", "admin"]);

/** Build the node's moderation. */
export function createModeration(options: ModerationOptions): Moderation {
  const { store, metrics, logger } = options;
  const state = new ModerationState();
  const listeners = new Set<(change: ModerationChange) => void>();
  const perActor = new RateLimiterMemory({ keyPrefix: "moderation", points: options.actionsPerMinute, duration: 60 });
  const timed = <T>(promise: Promise<T>) => withTimeout(promise, options.storeTimeoutMs);
  /** Changes applied while a reload reads the store, applied again on top of its snapshot. */
  let duringReload: ModerationChange[] | undefined;
  let timer: NodeJS.Timeout | undefined;

  function applyLocally(change: ModerationChange): void {
    state.apply(change);
    duringReload?.push(change);
    for (const listener of listeners) {
      try {
        listener(change);
      } catch (error) {
        logger.warn({ err: String(error), kind: change.kind }, "a room failed to apply a moderation change");
      }
    }
  }

  /** A change from the cluster: checked, then applied. A kind or version this node does not know is ignored. */
  function received(payload: unknown): void {
    if (!isChange(payload)) {
      metrics.moderationEventRejected();
      logger.warn({ kind: (payload as { kind?: unknown } | undefined)?.kind }, "ignored a moderation change this node does not understand");
      return;
    }
    applyLocally(payload);
  }

  /** Store first, then publish: a node that misses the publish still finds the change at its next reload. */
  async function publish(change: ModerationChange): Promise<void> {
    await Promise.resolve(options.presence.publish(MODERATION_CHANNEL, change));
  }

  async function reload(reason: string): Promise<void> {
    duringReload = [];
    try {
      const snapshot = await timed(store.loadState(Date.now()));
      const since = duringReload;
      state.replace(snapshot);
      for (const change of since) state.apply(change);
      metrics.moderationReloaded(reason);
    } finally {
      duringReload = undefined;
    }
  }

  async function takeAction(actor: Identity, body: ModerationActionBody, at: Date): Promise<{ entry: AuditEntry; duplicate: boolean }> {
    const until = body.durationMs === undefined ? undefined : at.getTime() + body.durationMs;
    const entry: AuditEntry = {
      actionId: body.actionId,
      type: body.type,
      ...(body.userId !== undefined && { userId: body.userId }),
      ...(body.conversationId !== undefined && { conversationId: body.conversationId }),
      ...(body.seq !== undefined && { seq: body.seq }),
      ...(body.intervalMs !== undefined && { intervalMs: body.intervalMs }),
      by: actor.userId,
      ...(body.reason !== undefined && { reason: body.reason }),
      at: at.toISOString(),
      ...(until !== undefined && { until: new Date(until).toISOString() }),
    };
    const change = await applyToStore(body, until);
    // Audited once the state is durable; an action whose audit write failed is applied again on retry (idempotent writes).
    const recorded = await timed(store.recordAction(entry));
    // Every node applies it from the publish, this one included (presence delivers to its publisher too).
    if (change && !recorded.duplicate) await timed(publish(change));
    return recorded;
  }

  /** Write the action's lasting effect; the change to publish (none for a no-op). */
  async function applyToStore(body: ModerationActionBody, until: number | undefined): Promise<ModerationChange | undefined> {
    const { userId, conversationId } = body;
    switch (body.type) {
      case "mute":
      case "shadow_mute":
      case "ban": {
        const sanction: Sanction = { kind: body.type, userId: userId!, ...(conversationId !== undefined && { conversationId }), ...(until !== undefined && { until }) };
        await timed(store.putSanction(sanction));
        return { v: 1, kind: "sanction", sanction };
      }
      case "unmute":
      case "unban": {
        const lifts: Sanction["kind"][] = body.type === "unmute" ? ["mute", "shadow_mute"] : ["ban"];
        await timed(store.liftSanctions(userId!, conversationId, lifts));
        return { v: 1, kind: "lift", userId: userId!, ...(conversationId !== undefined && { conversationId }), lifts };
      }
      case "kick":
        return { v: 1, kind: "kick", userId: userId!, conversationId: conversationId! };
      case "slow_mode":
        await timed(store.setSlowMode(conversationId!, body.intervalMs!));
        return { v: 1, kind: "slow_mode", conversationId: conversationId!, intervalMs: body.intervalMs! };
      case "delete":
        if (!(await timed(options.history.tombstone(conversationId!, body.seq!)))) throw new RefusalError("NOT_FOUND", `no message at seq ${body.seq} in ${conversationId}`);
        return { v: 1, kind: "delete", conversationId: conversationId!, seq: body.seq! };
    }
  }

  return {
    state,
    store,
    onChange(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    isExempt: (roles) => roles.some((role) => ROLES_WITH_EXEMPTION.has(role)),

    async act(actor, raw) {
      const body = parseAction(raw);
      try {
        await perActor.consume(actor.userId, 1);
      } catch (rejection) {
        if (rejection instanceof RateLimiterRes) throw new RefusalError("RATE_LIMITED", "too many moderation actions", rejection.msBeforeNext);
        throw rejection;
      }
      const first = await timed(store.findAction(body.actionId));
      if (first) return { actionId: first.actionId, type: first.type, at: first.at, duplicate: true };
      const { entry, duplicate } = await takeAction(actor, body, new Date());
      if (!duplicate) {
        metrics.moderationAction(entry.type);
        logger.info({ actionId: entry.actionId, type: entry.type, userId: entry.userId, conversationId: entry.conversationId, by: entry.by, until: entry.until }, "moderation action taken");
      }
      return { actionId: entry.actionId, type: entry.type, at: entry.at, duplicate };
    },

    async messageDeleted(by, conversationId, seq, asModerator) {
      if (!asModerator) return;
      // A moderator's delete in the room is audited like one over HTTP; the room already tombstoned it.
      await timed(store.recordAction({ actionId: `room-delete:${conversationId}:${seq}`, type: "delete", conversationId, seq, by: by.userId, at: new Date().toISOString() }));
      metrics.moderationAction("delete");
    },

    report: (report) => timed(store.addReport(report)),

    async setBlock(userId, blockedId, blocked) {
      await timed(store.setBlock(userId, blockedId, blocked));
      await timed(publish({ v: 1, kind: "block", userId, blockedId, blocked }));
    },

    reload,

    async start() {
      await Promise.resolve(options.presence.subscribe(MODERATION_CHANNEL, received));
      await reload("start");
      timer = setInterval(() => void reload("periodic").catch((error) => logger.warn({ err: String(error) }, "cannot reload moderation state; keeping the last one")), options.reloadMs ?? 30_000);
      timer.unref();
    },

    stop() {
      clearInterval(timer);
      void Promise.resolve(options.presence.unsubscribe(MODERATION_CHANNEL, received)).catch(() => undefined);
    },
  };
}

/** Parse and check an action body; INVALID naming the first problem. */
export function parseAction(raw: unknown): ModerationActionBody {
  const parsed = moderationActionBody.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue?.path.length ? `${issue.path.join(".")}: ` : "";
    throw new RefusalError("INVALID", `${where}${issue?.message ?? "invalid action"}`);
  }
  const body = parsed.data;
  const missing = requiredFields[body.type].filter((field) => body[field] === undefined);
  if (missing.length > 0) throw new RefusalError("INVALID", `${body.type} needs ${missing.join(", ")}`);
  if (body.conversationId !== undefined && "invalid" in parseConversationId(body.conversationId)) throw new RefusalError("INVALID", "conversationId is not a conversation id");
  return body;
}

function isChange(value: unknown): value is ModerationChange {
  if (typeof value !== "object" || value === null) return false;
  const change = value as { v?: unknown; kind?: unknown };
  return change.v === 1 && typeof change.kind === "string" && ["sanction", "lift", "kick", "slow_mode", "delete", "block"].includes(change.kind);
}
