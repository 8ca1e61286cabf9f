/**
 * The last check before a seat exists: a room refuses to reserve a seat whose authorisation was
 * not for this room, whatever join method or options led here (joinById with another
 * conversation's options, a matchmaker call without auth, a reservation for another user's inbox).
 * Refused seats are never reserved, so the client is never seated and nothing is sent to anyone.
 */
import type { Room } from "@colyseus/core";

/**
 * Install the fence on a room class. `admits(room, authData)` says whether the seat belongs in that
 * room; `onRefused` is told of each refused seat (for a log line and a metric).
 */
export function fenceSeats<R extends Room<any>>(roomClass: abstract new (...args: any[]) => R, admits: (room: R, authData: unknown) => boolean, onRefused: (room: R, authData: unknown) => void): void {
  // Colyseus declares _reserveSeat private; every seat (join, joinById, create, reconnection)
  // passes through it, local or over IPC, so wrapping it on the subclass fences them all.
  const proto = roomClass.prototype as unknown as { _reserveSeat: (sessionId: string, joinOptions: unknown, authData: unknown, ...rest: unknown[]) => Promise<boolean> };
  const original = proto._reserveSeat;
  proto._reserveSeat = async function (this: R, sessionId, joinOptions, authData, ...rest) {
    if (!admits(this, authData)) {
      onRefused(this, authData);
      return false;
    }
    return original.call(this, sessionId, joinOptions, authData, ...rest);
  };
}
