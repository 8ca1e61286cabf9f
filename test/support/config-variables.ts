/**
 * The environment variables a node reads, taken from server/config.ts's source (every
 * `integer(env, "NAME"`, `optionalString(env, "NAME"` and `url(env, "NAME"`), so deployment
 * tests fail when a manifest sets a variable the node no longer reads, or misspells one.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";

/** Variables Colyseus itself reads (not through server/config.ts). */
const COLYSEUS_VARIABLES = ["COLYSEUS_SEAT_RESERVATION_TIME", "COLYSEUS_PRESENCE_SHORT_TIMEOUT"];

/** Every variable name the node reads. */
export function configVariables(): Set<string> {
  const source = readFileSync(join(import.meta.dirname, "..", "..", "server", "config.ts"), "utf8");
  const names = [...source.matchAll(/\b(?:integer|optionalString|url)\(env, "([A-Z][A-Z0-9_]*)"/g)].map((match) => match[1]!);
  return new Set([...names, ...COLYSEUS_VARIABLES]);
}
