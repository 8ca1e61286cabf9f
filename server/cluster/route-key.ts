/**
 * Which rooms are routed, and by what: one live room per conversation (`chat`) and per user
 * (`inbox`). Shared by the Redis routing driver, the single-node driver and the matchmaking guard.
 */

/** Room name -> the option that routes it. */
export type Routes = Readonly<Record<string, string>>;

/** Parley's routed rooms. */
export const ROUTES: Routes = Object.freeze({ chat: "conversationId", inbox: "userId" });

/**
 * The routing value of a lookup or a listing (`{ name, conversationId }` or `{ name, metadata }`),
 * or undefined for a room that is not routed.
 */
export function routeValueOf(routes: Routes, fields: Record<string, unknown>): string | undefined {
  const name = fields.name;
  if (typeof name !== "string") return undefined;
  const field = routes[name];
  // Lookups carry the filter field at the top level; listings keep it in their metadata.
  const value = field === undefined ? undefined : (fields[field] ?? (fields.metadata as Record<string, unknown> | undefined)?.[field]);
  return typeof value === "string" ? value : undefined;
}

/** The route key of a lookup or listing: `parley:route:<roomName>:<value>`. */
export function routeKeyOf(routes: Routes, fields: Record<string, unknown>): string | undefined {
  const value = routeValueOf(routes, fields);
  return value === undefined ? undefined : `parley:route:${String(fields.name)}:${value}`;
}
