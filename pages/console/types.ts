/** Shapes of the console API's answers (server/http/console-api.ts). */
export type Session = { userId: string; roles: string[]; csrfToken: string; adminOnlyActions: string[]; actionTypes: string[]; monitor: string | null };

/** A node's stats as it publishes them (the console API passes them through). */
export type { NodeStats } from "../../server/console/node-stats.ts";

export type Message = { conversationId: string; seq: number; senderId: string; senderName: string; text: string; sentAt: string; deleted?: true; filtered?: true };
export type Member = { sessionId: string; userId: string; name: string; connectedAt: string };
export type AuditEntry = { actionId: string; type: string; userId?: string; conversationId?: string; seq?: number; by: string; reason?: string; at: string; until?: string };
export type Report = {
  reportId: string;
  conversationId: string;
  seq: number;
  reporterId: string;
  reason: string;
  at: string;
  context: Message[];
  resolution: { outcome: string; by: string; at: string } | null;
};

/** Whether the operator may take an action of `type` from the console. */
export function mayAct(session: Session, type: string): boolean {
  return !session.adminOnlyActions.includes(type) || session.roles.includes("admin");
}
