/**
 * The HTTP API: every route with who may call it. Errors are `{ error: { code, message } }` with the
 * code's HTTP status (`Codes`).
 */
import type { Since } from "./chat.ts";

export type Route = { method: "GET" | "POST" | "PUT" | "DELETE"; path: string; who: string; since: Since };

export const httpRoutes = [
  { method: "GET", path: "/v1/conversations/:id/messages", who: "a member", since: "1" },
  { method: "POST", path: "/v1/conversations/:id/messages", who: "role service", since: "1" },
  { method: "PUT", path: "/v1/groups/:id/members/:userId", who: "role service or admin", since: "1" },
  { method: "DELETE", path: "/v1/groups/:id/members/:userId", who: "role service or admin", since: "1" },
  { method: "GET", path: "/healthz", who: "anyone", since: "1" },
  { method: "GET", path: "/readyz", who: "anyone", since: "1" },
  { method: "GET", path: "/metrics", who: "the internal network", since: "1" },
  { method: "POST", path: "/v1/moderation/actions", who: "role moderator, admin or service", since: "1.1" },
  { method: "GET", path: "/v1/moderation/actions", who: "role moderator or admin", since: "1.1" },
  { method: "GET", path: "/v1/moderation/reports", who: "role moderator or admin", since: "1.1" },
  { method: "PUT", path: "/v1/users/:userId/blocks/:blockedId", who: "that user", since: "1.1" },
  { method: "DELETE", path: "/v1/users/:userId/blocks/:blockedId", who: "that user", since: "1.1" },
] as const satisfies readonly Route[];
