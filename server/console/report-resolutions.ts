/**
 * How each report was resolved from the console: dismissed, or acted on (with the moderation
 * action's id, whose effect and audit entry live in the moderation store). Kept in one presence
 * hash, so every api node shows the same queue.
 *
 * Limit: in Redis, not in the moderation store, so a Redis flush brings dismissed reports back into
 * the queue (the actions taken stay in the audit log). TODO(#13): a resolution field on reports in
 * ModerationStore, with its contract test.
 */
import type { Presence } from "@colyseus/core";

const RESOLUTIONS_KEY = "parley:console:report-resolutions";

/** One report's resolution. */
export type ReportResolution = { outcome: "dismissed" | "acted"; by: string; at: string; actionId?: string };

/** Resolutions of reports, by report id. */
export function createReportResolutions(presence: Presence) {
  return {
    async all(): Promise<Map<string, ReportResolution>> {
      const raw = (await presence.hgetall(RESOLUTIONS_KEY)) ?? {};
      const entries: Array<[string, ReportResolution]> = [];
      for (const [reportId, text] of Object.entries(raw)) {
        try {
          entries.push([reportId, JSON.parse(text) as ReportResolution]);
        } catch {
          // A field this code did not write: left out of the listing.
        }
      }
      return new Map(entries);
    },
    /** One report's resolution, if it has one. */
    async get(reportId: string): Promise<ReportResolution | undefined> {
      const text = await presence.hget(RESOLUTIONS_KEY, reportId);
      return text ? (JSON.parse(text) as ReportResolution) : undefined;
    },
    /** Record a resolution; the first one stands (a second click, on any node, changes nothing). */
    async resolve(reportId: string, resolution: ReportResolution): Promise<ReportResolution> {
      const first = await presence.hget(RESOLUTIONS_KEY, reportId);
      if (first) return JSON.parse(first) as ReportResolution;
      await presence.hset(RESOLUTIONS_KEY, reportId, JSON.stringify(resolution));
      return resolution;
    },
  };
}

export type ReportResolutions = ReturnType<typeof createReportResolutions>;
