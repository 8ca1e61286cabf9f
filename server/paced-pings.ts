/**
 * Keep-alive pings spread over their interval. Colyseus's ws transport pings every client at once
 * each interval: with thousands of sockets on a node that is thousands of socket writes in one
 * turn of the event loop (and their pongs right after), a stall that every join and message
 * arriving then waits out. Here each client gets a slice of the interval, assigned when it is first
 * seen, and each tick pings one slice: the same ping per client per interval, the same
 * termination after `maxRetries` unanswered, in `slices` small turns instead of one big one.
 */

/** A ws client as Colyseus's transport keeps it (`pingCount` reset by its pong handler). */
export type PingedClient = { pingCount: number; ping(callback: () => void): void; terminate(): void };

/** Ticks per interval. */
export const PING_SLICES = 10;

const noop = () => undefined;

/**
 * One slice's pings per `tick()`: a client is pinged at every `slices`-th tick (its slice's), or
 * terminated there once `maxRetries` pings went unanswered. Answers how many it pinged.
 */
export function pacedPinger(clients: Iterable<PingedClient>, maxRetries: number, slices = PING_SLICES): { tick(): number } {
  const sliceOf = new WeakMap<PingedClient, number>();
  let assigned = 0;
  let ticks = 0;
  return {
    tick() {
      const slice = ticks++ % slices;
      let pinged = 0;
      for (const client of clients) {
        let own = sliceOf.get(client);
        if (own === undefined) {
          own = assigned++ % slices;
          sliceOf.set(client, own);
        }
        if (own !== slice) continue;
        if (client.pingCount >= maxRetries) {
          client.terminate();
          continue;
        }
        client.pingCount++;
        client.ping(noop);
        pinged++;
      }
      return pinged;
    },
  };
}

/** Ping `clients` every `intervalMs`, one slice every `intervalMs / slices`; returns the timer. */
export function startPacedPings(clients: Iterable<PingedClient>, intervalMs: number, maxRetries: number, slices = PING_SLICES): NodeJS.Timeout {
  const pinger = pacedPinger(clients, maxRetries, slices);
  return setInterval(() => void pinger.tick(), Math.max(1, Math.floor(intervalMs / slices)));
}
