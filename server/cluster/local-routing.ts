/**
 * The single-node matchmaker driver: Colyseus's LocalDriver, plus the same fence the Redis routing
 * driver keeps in a cluster: one live room per conversation (and per inbox). A second room recorded
 * for a routed value that already has one (a `create`, or a race between a join and a service send)
 * is discarded by the matchmaker, and its join goes to the room that holds the conversation.
 */
import { LocalDriver, type IRoomCache, type SortOptions } from "@colyseus/core";
import { routeKeyOf, type Routes } from "./route-key.ts";

export class LocalRoutingDriver extends LocalDriver {
  readonly #routes: Routes;
  readonly #onClaimLost: () => void;
  /** route key -> the roomId holding it. Bounded by the live rooms. */
  readonly #owners = new Map<string, string>();
  /** Rooms discarded because another held their route: discarded roomId -> winner, taken once. */
  readonly #lostTo = new Map<string, string>();

  constructor(routes: Routes, onClaimLost: () => void) {
    super();
    this.#routes = routes;
    this.#onClaimLost = onClaimLost;
  }

  override async insert(listing: IRoomCache): Promise<boolean> {
    const route = routeKeyOf(this.#routes, listing as unknown as Record<string, unknown>);
    if (route !== undefined) {
      const owner = this.#owners.get(route);
      if (owner !== undefined && owner !== listing.roomId && this.has(owner)) {
        this.#lostTo.set(listing.roomId, owner);
        this.#onClaimLost();
        return false;
      }
      this.#owners.set(route, listing.roomId);
    }
    return super.insert(listing);
  }

  override findOne(conditions: Partial<IRoomCache>, sortOptions?: SortOptions) {
    const winner = conditions.roomId === undefined ? undefined : this.#lostTo.get(conditions.roomId);
    if (winner === undefined) return super.findOne(conditions, sortOptions);
    this.#lostTo.delete(conditions.roomId!);
    return super.findOne({ roomId: winner }, sortOptions);
  }

  override remove(roomId: string): boolean {
    const listing = this.rooms.find((room) => room.roomId === roomId);
    const route = listing && routeKeyOf(this.#routes, listing as unknown as Record<string, unknown>);
    if (route !== undefined && this.#owners.get(route) === roomId) this.#owners.delete(route);
    return super.remove(roomId);
  }
}
