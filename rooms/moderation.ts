/**
 * Moderation state of a node, and every decision made from it: whether a user may send, join or
 * type here, slow mode, blocks. Decisions are made from memory only, never with a call to Redis or
 * the store on the path of a message. The store is the source of truth: a node loads the state at
 * start, after Redis comes back and periodically, and applies each change published on the cluster
 * (`ModerationChange`) as it arrives.
 */
import { refusal, type Refusal } from "../schema/codes.ts";

/** A lasting sanction on a user: everywhere (`conversationId` absent) or in one conversation. */
export type Sanction = {
  kind: "mute" | "shadow_mute" | "ban";
  userId: string;
  conversationId?: string;
  /** Epoch ms at which it ends; absent: until lifted. */
  until?: number;
};

/** Everything a node needs to decide, as loaded from the store. */
export type ModerationSnapshot = {
  sanctions: Sanction[];
  slowModes: Array<{ conversationId: string; intervalMs: number }>;
  blocks: Array<{ userId: string; blockedId: string }>;
};

/**
 * A change every node applies, published on the cluster after the store took it: one typed union,
 * discriminated on `kind`. `v` is the format version; a node ignores a kind it does not know.
 */
export type ModerationChange =
  | { v: 1; kind: "sanction"; sanction: Sanction }
  | { v: 1; kind: "lift"; userId: string; conversationId?: string; lifts: ReadonlyArray<Sanction["kind"]> }
  | { v: 1; kind: "kick"; userId: string; conversationId: string }
  | { v: 1; kind: "slow_mode"; conversationId: string; intervalMs: number }
  | { v: 1; kind: "delete"; conversationId: string; seq: number }
  | { v: 1; kind: "block"; userId: string; blockedId: string; blocked: boolean };

/** What a send meets: allowed, allowed but shown to others only as a tombstone, or refused. */
export type SendVerdict = { kind: "ok" } | { kind: "shadow" } | { kind: "refused"; refusal: Refusal };

const ANYWHERE = "";

/** The node's moderation state. Memory: bounded by the sanctions, slow modes and blocks in force. */
export class ModerationState {
  /** userId -> scope ("" = everywhere) -> kind -> until (Infinity: until lifted). */
  #sanctions = new Map<string, Map<string, Map<Sanction["kind"], number>>>();
  #slowModes = new Map<string, number>();
  /** userId -> the users they blocked. */
  #blocks = new Map<string, Set<string>>();

  /** Replace everything with a snapshot loaded from the store. */
  replace(snapshot: ModerationSnapshot): void {
    this.#sanctions.clear();
    this.#slowModes.clear();
    this.#blocks.clear();
    for (const sanction of snapshot.sanctions) this.#add(sanction);
    for (const { conversationId, intervalMs } of snapshot.slowModes) if (intervalMs > 0) this.#slowModes.set(conversationId, intervalMs);
    for (const { userId, blockedId } of snapshot.blocks) this.#block(userId, blockedId, true);
  }

  /** Apply one change from the cluster. */
  apply(change: ModerationChange): void {
    switch (change.kind) {
      case "sanction":
        return this.#add(change.sanction);
      case "lift":
        return this.#lift(change.userId, change.conversationId, change.lifts);
      case "slow_mode":
        if (change.intervalMs > 0) this.#slowModes.set(change.conversationId, change.intervalMs);
        else this.#slowModes.delete(change.conversationId);
        return;
      case "block":
        return this.#block(change.userId, change.blockedId, change.blocked);
      case "kick":
      case "delete":
        return; // effects on live sessions and messages, no lasting state
    }
  }

  /** Whether `userId` may send in `conversationId` now, and how. Mute wins over shadow mute. */
  sendVerdict(userId: string, conversationId: string, now: number): SendVerdict {
    const muted = this.#until(userId, conversationId, "mute", now);
    if (muted !== undefined) return { kind: "refused", refusal: refusal("FORBIDDEN", "you are muted here", Number.isFinite(muted) ? muted - now : undefined) };
    if (this.#until(userId, conversationId, "shadow_mute", now) !== undefined) return { kind: "shadow" };
    return { kind: "ok" };
  }

  /** Muted users' typing is dropped (shadow-muted users' too: others must not notice them). */
  mayType(userId: string, conversationId: string, now: number): boolean {
    return this.sendVerdict(userId, conversationId, now).kind === "ok";
  }

  /** The refusal of a join by a banned user, or undefined. */
  banRefusal(userId: string, conversationId: string, now: number): Refusal | undefined {
    const until = this.#until(userId, conversationId, "ban", now);
    if (until === undefined) return undefined;
    return refusal("FORBIDDEN", "you are banned from this conversation", Number.isFinite(until) ? until - now : undefined);
  }

  /** Whether `userId` is banned in `conversationId` (or everywhere) now. */
  isBanned(userId: string, conversationId: string, now: number): boolean {
    return this.#until(userId, conversationId, "ban", now) !== undefined;
  }

  /** The slow-mode interval of a conversation, 0 when off. */
  slowModeMs(conversationId: string): number {
    return this.#slowModes.get(conversationId) ?? 0;
  }

  /** Whether `userId` blocked `otherId`. */
  hasBlocked(userId: string, otherId: string): boolean {
    return this.#blocks.get(userId)?.has(otherId) ?? false;
  }

  /** When the strongest sanction of `kind` on the user here ends (Infinity: until lifted), or undefined. */
  #until(userId: string, conversationId: string, kind: Sanction["kind"], now: number): number | undefined {
    const scopes = this.#sanctions.get(userId);
    if (scopes === undefined) return undefined;
    let until: number | undefined;
    for (const scope of [ANYWHERE, conversationId]) {
      const end = scopes.get(scope)?.get(kind);
      if (end !== undefined && end > now) until = Math.max(until ?? 0, end);
    }
    return until;
  }

  #add({ kind, userId, conversationId, until }: Sanction): void {
    const scopes = this.#sanctions.get(userId) ?? new Map<string, Map<Sanction["kind"], number>>();
    const kinds = scopes.get(conversationId ?? ANYWHERE) ?? new Map<Sanction["kind"], number>();
    kinds.set(kind, until ?? Number.POSITIVE_INFINITY);
    scopes.set(conversationId ?? ANYWHERE, kinds);
    this.#sanctions.set(userId, scopes);
  }

  /** Lift sanctions of `kinds`: in one conversation, or (no conversationId) everywhere they apply. */
  #lift(userId: string, conversationId: string | undefined, kinds: ReadonlyArray<Sanction["kind"]>): void {
    const scopes = this.#sanctions.get(userId);
    if (scopes === undefined) return;
    for (const [scope, held] of scopes) {
      if (conversationId !== undefined && scope !== conversationId) continue;
      for (const kind of kinds) held.delete(kind);
      if (held.size === 0) scopes.delete(scope);
    }
    if (scopes.size === 0) this.#sanctions.delete(userId);
  }

  #block(userId: string, blockedId: string, blocked: boolean): void {
    const set = this.#blocks.get(userId) ?? new Set<string>();
    if (blocked) set.add(blockedId);
    else set.delete(blockedId);
    if (set.size > 0) this.#blocks.set(userId, set);
    else this.#blocks.delete(userId);
  }
}

/** The view of a stored message for `readerId`: a shadow-muted message is a tombstone to everyone but its sender. */
export function viewFor<M extends { senderId: string; text: string; shadow?: true; deleted?: true; filtered?: true }>(message: M, readerId: string | undefined): Omit<M, "shadow"> {
  if (message.shadow === undefined) return message;
  const { shadow: _shadow, ...rest } = message;
  if (readerId === message.senderId) return rest;
  const { filtered: _filtered, ...tombstone } = rest;
  return { ...tombstone, text: "", deleted: true } as Omit<M, "shadow">;
}
