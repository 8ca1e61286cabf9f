/**
 * EndpointRing: the nodes a client may join through, tried round-robin. Every node finds the live
 * room of a conversation wherever it runs, so any endpoint will do; the ring only moves past ones
 * that failed, and all rooms of one client share it.
 */

/** The list of endpoints with a preferred one that moves on failure. */
export class EndpointRing {
  readonly #endpoints: readonly string[];
  #preferred = 0;

  constructor(endpoints: readonly string[]) {
    if (endpoints.length === 0) throw new Error("at least one endpoint is required");
    this.#endpoints = [...endpoints];
  }

  /** Every endpoint, in the order given. */
  get all(): readonly string[] {
    return this.#endpoints;
  }

  /** The endpoint to try for attempt `attempt` (0-based) of a join: the preferred one, then the rest in turn. */
  pick(attempt: number): string {
    return this.#endpoints[(this.#preferred + attempt) % this.#endpoints.length]!;
  }

  /** Move the preference past `endpoint` after it failed (a no-op if another room already did). */
  markFailed(endpoint: string): void {
    if (this.#endpoints[this.#preferred] === endpoint) this.#preferred = (this.#preferred + 1) % this.#endpoints.length;
  }

  /** Prefer `endpoint` after a join through it succeeded. */
  markHealthy(endpoint: string): void {
    const index = this.#endpoints.indexOf(endpoint);
    if (index >= 0) this.#preferred = index;
  }
}
