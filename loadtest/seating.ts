/**
 * Getting a run's clients seated, bounded in time: every endpoint is probed first (GET /healthz),
 * then joins start on a ramp, at most JOINS_IN_FLIGHT at once, and whatever has not joined when
 * the seating deadline passes is abandoned and counted, never waited on forever.
 */
import type { Seat } from "./identities.ts";
import type { LoadMember, Seating } from "./scenarios.ts";

/** Joins started and not yet settled, at most. */
const JOINS_IN_FLIGHT = 50;

/** An endpoint that did not answer its health check, and why. */
export type Unreachable = { endpoint: string; problem: string };

/** GET /healthz on every endpoint at once; resolves with those that did not answer 200 within `timeoutMs`. */
export async function probeEndpoints(endpoints: readonly string[], timeoutMs: number): Promise<Unreachable[]> {
  const results = await Promise.all(
    endpoints.map(async (endpoint): Promise<Unreachable | undefined> => {
      try {
        const response = await fetch(`${endpoint}/healthz`, { signal: AbortSignal.timeout(timeoutMs) });
        await response.body?.cancel();
        return response.ok ? undefined : { endpoint, problem: `GET /healthz answered ${response.status}` };
      } catch (error) {
        return { endpoint, problem: `GET /healthz: ${describeFetchError(error, timeoutMs)}` };
      }
    }),
  );
  return results.filter((result) => result !== undefined);
}

function describeFetchError(error: unknown, timeoutMs: number): string {
  if (error instanceof DOMException && error.name === "TimeoutError") return `no answer within ${timeoutMs} ms`;
  const cause = (error as { cause?: { code?: unknown; message?: unknown } }).cause;
  if (typeof cause?.code === "string") return cause.code === "ECONNREFUSED" ? "connection refused; is a Parley node running there?" : cause.code;
  return typeof cause?.message === "string" ? cause.message : error instanceof Error ? error.message : String(error);
}

export type SeatingPlan = {
  /** Members per conversation, by conversation. */
  sizes: readonly number[];
  /** Spread the starts of the joins evenly over this long; 0 starts them as fast as they finish. */
  rampMs: number;
  /** Joins not done this long after the start (ramp included) are abandoned. */
  deadlineMs: number;
};

export type SeatingResult = {
  seating: Seating;
  seated: number;
  /** Clients that never joined, by the code their join failed with (TIMEOUT past the deadline). */
  failedByCode: Map<string, number>;
  seconds: number;
};

/**
 * Seat every client of `plan`. The first member of each conversation joins first, so each room is
 * created once. `join` gets a signal that fires at the deadline; `codeOf` names a failed join.
 */
export async function seatClients(
  plan: SeatingPlan,
  makeSeat: (conversation: number, user: number, index: number) => Promise<Seat>,
  join: (seat: Seat, signal: AbortSignal) => Promise<LoadMember>,
  codeOf: (error: unknown) => string,
): Promise<SeatingResult> {
  const started = performance.now();
  const deadline = new AbortController();
  const timer = setTimeout(() => deadline.abort(), plan.deadlineMs);
  const seating: Seating = plan.sizes.map(() => []);
  const failedByCode = new Map<string, number>();
  const fail = (code: string) => failedByCode.set(code, (failedByCode.get(code) ?? 0) + 1);
  const order = [
    ...plan.sizes.flatMap((size, conversation) => (size > 0 ? [[conversation, 0] as const] : [])),
    ...plan.sizes.flatMap((size, conversation) => Array.from({ length: Math.max(0, size - 1) }, (_, user) => [conversation, user + 1] as const)),
  ];
  const spacingMs = order.length > 1 ? plan.rampMs / (order.length - 1) : 0;
  // The others of a conversation wait for its first join, so its room is created once.
  const firstJoins = plan.sizes.map(() => {
    let resolve!: () => void;
    const promise = new Promise<void>((done) => (resolve = done));
    return { promise, resolve };
  });
  let next = 0;
  const worker = async () => {
    while (next < order.length) {
      const index = next++;
      const [conversation, user] = order[index]!;
      const waitMs = started + index * spacingMs - performance.now();
      if (waitMs > 0) await new Promise((resolve) => setTimeout(resolve, waitMs));
      if (deadline.signal.aborted) {
        fail("TIMEOUT");
        continue;
      }
      if (user > 0) await firstJoins[conversation]!.promise;
      try {
        const member = await join(await makeSeat(conversation, user, index), deadline.signal);
        if (deadline.signal.aborted) {
          fail("TIMEOUT");
          void member.close();
        } else seating[conversation]!.push(member);
      } catch (error) {
        fail(deadline.signal.aborted ? "TIMEOUT" : codeOf(error));
      } finally {
        if (user === 0) firstJoins[conversation]!.resolve();
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(JOINS_IN_FLIGHT, order.length) }, worker));
  clearTimeout(timer);
  return { seating, seated: seating.flat().length, failedByCode, seconds: (performance.now() - started) / 1000 };
}
