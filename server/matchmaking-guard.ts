/**
 * The matchmaking routes (`POST /matchmake/:method/:room`) made safe for routed rooms:
 * - `create` of a conversation or an inbox is served as `joinOrCreate`: there is one room per
 *   conversation, and a client must never be able to start a second one;
 * - `joinById` tells the room type's static onAuth which conversation (or inbox) that room holds,
 *   so the join is authorised against the room it seats the client in, not against its options;
 * - `reconnect` is refused: Parley rooms keep no seat for a dropped client (a client joins again
 *   and catches up with `sync`), and the stock `reconnect` closes the live connection whose token
 *   it is given before it fails, so anyone holding a token could knock its owner out.
 * - every call from one client address counts against `joinsPerSec` on this node: past it the
 *   call is refused `RATE_LIMITED` before it costs a lookup, an onAuth or a room.
 * The rooms' seat fence stays the last check (rooms/plugins/seat-fence.ts); this makes the refusal
 * an ordinary `FORBIDDEN` instead of a failed seat reservation.
 *
 * Colyseus exposes its matchmaking controller for this kind of customisation (its documentation
 * shows `getCorsHeaders` replaced the same way); the wrap is installed once per process.
 */
import { matchMaker, ServerError, type AuthContext, type IRoomCache } from "@colyseus/core";
import { createMemoryRateLimit } from "../rooms/plugins/rate-limit.ts";
import { SEAT_TARGET, type SeatTarget } from "../rooms/room-deps.ts";
import { httpStatusOf } from "../schema/codes.ts";
import { routeValueOf, type Routes } from "./cluster/route-key.ts";
import type { ConnectionGuardEvents } from "./connection-guard.ts";

type Invoke = typeof matchMaker.controller.invokeMethod;
const ORIGINAL = Symbol.for("parley.matchmaking.original");

/** The per-address bound on matchmaking calls. */
export type AddressJoinLimit = {
  /** Matchmaking calls one client address may make per second on this node (config.ipLimits). */
  joinsPerSec: number;
  /**
   * The client address of a call, from its request headers (the transport's `clientAddressOf`);
   * `undefined` when it cannot be known, and then the call is not counted.
   */
  clientAddressOf(headers: Headers): string | undefined;
  /** Told of each refusal: a metric (`onIpLimit("joins")`) and a throttled warn line. */
  events: Pick<ConnectionGuardEvents, "onIpLimit" | "log">;
};

/**
 * Install the guard; `onCreateRedirected` counts `create` calls served as joinOrCreate. Without
 * `addressLimit` no per-address bound applies.
 */
export function guardMatchmaking(routes: Routes, onCreateRedirected: (roomName: string) => void, addressLimit?: AddressJoinLimit): void {
  const controller = matchMaker.controller as typeof matchMaker.controller & { [ORIGINAL]?: Invoke };
  const original: Invoke = controller[ORIGINAL] ?? controller.invokeMethod;
  controller[ORIGINAL] = original;
  const admitAddress = addressLimit && limitJoinsPerAddress(addressLimit);
  controller.invokeMethod = async function (this: typeof controller, method, roomName, clientOptions = {}, authOptions) {
    if (admitAddress && authOptions !== undefined) await admitAddress(authOptions);
    if (method === "create" && routes[roomName] !== undefined) {
      onCreateRedirected(roomName);
      return original.call(this, "joinOrCreate", roomName, clientOptions, authOptions);
    }
    if (method === "reconnect") {
      throw new ServerError(400, "INVALID: Parley rooms take no reconnection; join again with joinOrCreate and sync from your last seq");
    }
    if (method === "joinById" && authOptions !== undefined) {
      const listing = (await matchMaker.driver.findOne({ roomId: roomName })) as IRoomCache | undefined;
      const routeValue = listing && routeValueOf(routes, listing as unknown as Record<string, unknown>);
      if (listing && routeValue !== undefined) {
        (authOptions as unknown as Record<string, unknown>)[SEAT_TARGET] = { roomName: listing.name, routeValue } satisfies SeatTarget;
      }
    }
    return original.call(this, method, roomName, clientOptions, authOptions);
  } as Invoke;
}

/** A check that throws RATE_LIMITED once a call's client address is past `joinsPerSec`. */
function limitJoinsPerAddress({ joinsPerSec, clientAddressOf, events }: AddressJoinLimit): (auth: AuthContext) => Promise<void> {
  const joins = createMemoryRateLimit(joinsPerSec, 0);
  return async (auth) => {
    const address = clientAddressOf(auth.headers);
    if (address === undefined) return;
    const retryAfterMs = joins.take(address);
    if (retryAfterMs === undefined) return;
    events.onIpLimit("joins");
    events.log("ip_joins_refused", { address, joinsPerSec }, "join refused: too many joins from this address");
    throw new ServerError(httpStatusOf.RATE_LIMITED, `RATE_LIMITED: too many joins from this address (retry after ${Math.ceil(retryAfterMs)} ms)`);
  };
}
