/**
 * Deprecated: report resolutions live in the ModerationStore (`findReport`, `resolveReport`,
 * `listReports`), no longer in Redis. This stub stays only because server/app.ts still calls
 * `createReportResolutions(presence)` for mountConsole; nothing reads what it returns.
 * TODO(#13): delete this file, and `resolutions` in ConsoleDeps, once app.ts drops that call.
 */
import type { Presence } from "@colyseus/core";

/** Nothing: the console reads resolutions from the moderation store. */
export type ReportResolutions = Readonly<Record<string, never>>;

/** A placeholder for app.ts's existing call; `presence` is ignored. */
export function createReportResolutions(_presence: Presence): ReportResolutions {
  return Object.freeze({});
}
