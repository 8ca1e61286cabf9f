/**
 * Users: one user's sessions across the cluster, conversations, sanctions in force and audit
 * entries, and the moderation actions (mute, shadow mute, ban, kick, and their lifts) with a
 * scope, a duration and a reason. Each click is one action id: a retry is never a second action.
 */
import { getJson, newId, postJson } from "../shared/api.ts";
import { html, since, useEffect, useState } from "../shared/html.ts";
import { SearchForm } from "./conversations.ts";
import { type AuditEntry, mayAct, type Session } from "./types.ts";

type Sanction = { kind: string; conversationId?: string; until: string | null };
type UserSession = { node: string; roomName: string; routeValue: string; sessionId: string; connectedAt: string; name: string };
type UserDetail = { userId: string; sessions: UserSession[]; unansweredNodes: string[]; conversations: string[]; sanctions: Sanction[]; audit: AuditEntry[] };

const ACTIONS = [
  ["mute", "Mute"],
  ["shadow_mute", "Shadow mute"],
  ["unmute", "Unmute"],
  ["kick", "Kick"],
  ["ban", "Ban"],
  ["unban", "Unban"],
] as const;

const DURATIONS = [
  ["", "Until lifted"],
  ["300000", "5 minutes"],
  ["3600000", "1 hour"],
  ["86400000", "1 day"],
  ["604800000", "1 week"],
] as const;

export function UserView({ userId, session }: { userId: string; session: Session }) {
  const [detail, setDetail] = useState<UserDetail | undefined>();
  const [failure, setFailure] = useState("");
  const [status, setStatus] = useState("");
  const [type, setType] = useState("mute");
  const [scope, setScope] = useState("");
  const [duration, setDuration] = useState("");
  const [reason, setReason] = useState("");

  const load = async () => {
    if (!userId) return;
    try {
      setDetail(await getJson<UserDetail>(`/admin/api/users/${encodeURIComponent(userId)}`));
      setFailure("");
    } catch (error) {
      setFailure((error as Error).message);
    }
  };
  useEffect(() => void load(), [userId]);

  if (!userId) return html`<h2>Users</h2><${SearchForm} />`;

  const takesDuration = type === "mute" || type === "shadow_mute" || type === "ban";
  const apply = async (event: Event) => {
    event.preventDefault();
    setStatus("Applying…");
    try {
      await postJson("/admin/api/actions", {
        actionId: newId(`console-${type}`),
        type,
        userId,
        ...(scope.trim() && { conversationId: scope.trim() }),
        ...(takesDuration && duration && { durationMs: Number(duration) }),
        ...(reason.trim() && { reason: reason.trim() }),
      });
      setStatus(`${type.replace("_", " ")} applied to ${userId}.`);
      await load();
    } catch (error) {
      setStatus(`Refused: ${(error as Error).message}`);
    }
  };
  const value = (setter: (value: string) => void) => (event: Event) => setter((event.target as HTMLInputElement).value);

  return html`
    <h2>User ${userId}</h2>
    <${SearchForm} />
    ${failure && html`<p role="alert" class="error">${failure}</p>`}
    <section aria-labelledby="act-title">
      <h3 id="act-title">Moderate</h3>
      <form class="row" onSubmit=${apply}>
        <label>Action<select name="type" value=${type} onChange=${value(setType)}>
          ${ACTIONS.map(([action, label]) => html`<option value=${action} disabled=${!mayAct(session, action)}>${label}${mayAct(session, action) ? "" : " (needs admin)"}</option>`)}
        </select></label>
        <label>Conversation (empty: everywhere)<input name="conversationId" value=${scope} onInput=${value(setScope)} placeholder="channel:lobby" /></label>
        <label>Duration<select name="duration" value=${duration} onChange=${value(setDuration)} disabled=${!takesDuration}>
          ${DURATIONS.map(([ms, label]) => html`<option value=${ms}>${label}</option>`)}
        </select></label>
        <label>Reason<input name="reason" value=${reason} onInput=${value(setReason)} maxlength="500" /></label>
        <button type="submit" class="danger">Apply</button>
      </form>
      <p role="status" aria-live="polite">${status}</p>
    </section>
    <section aria-labelledby="state-title">
      <h3 id="state-title">Moderation state</h3>
      <ul class="sanctions">
        ${(detail?.sanctions ?? []).map((sanction) => html`<li>${sanction.kind.replace("_", " ")} ${sanction.conversationId ? `in ${sanction.conversationId}` : "everywhere"} ${sanction.until ? `until ${new Date(sanction.until).toLocaleString()}` : "until lifted"}</li>`)}
      </ul>
      ${detail && detail.sanctions.length === 0 && html`<p class="muted">No sanction in force.</p>`}
    </section>
    <section aria-labelledby="sessions-title">
      <h3 id="sessions-title">Sessions</h3>
      <table>
        <thead><tr><th scope="col">Room</th><th scope="col">Conversation</th><th scope="col">Node</th><th scope="col">Connected since</th></tr></thead>
        <tbody>
          ${(detail?.sessions ?? []).map(
            (found) =>
              html`<tr data-session=${found.sessionId}><td>${found.roomName}</td><td>${found.roomName === "chat" ? html`<a href=${`#/conversation/${encodeURIComponent(found.routeValue)}`}>${found.routeValue}</a>` : "inbox"}</td><td>${found.node}</td><td>${since(found.connectedAt)}</td></tr>`,
          )}
        </tbody>
      </table>
      ${detail?.unansweredNodes.length ? html`<p class="error">Not answering: ${detail.unansweredNodes.join(", ")}</p>` : ""}
      <p class="muted">Recorded conversations (dm and group): ${detail?.conversations.join(", ") || "none"}</p>
    </section>
    <section aria-labelledby="audit-title">
      <h3 id="audit-title">Audit entries</h3>
      <${AuditTable} actions=${detail?.audit ?? []} />
    </section>
  `;
}

export function AuditTable({ actions }: { actions: AuditEntry[] }) {
  return html`<table>
    <thead><tr><th scope="col">When</th><th scope="col">Action</th><th scope="col">User</th><th scope="col">Conversation</th><th scope="col">By</th><th scope="col">Reason</th><th scope="col">Until</th></tr></thead>
    <tbody>
      ${actions.map(
        (entry) =>
          html`<tr><td><time datetime=${entry.at}>${new Date(entry.at).toLocaleString()}</time></td><td>${entry.type}${entry.seq ? ` #${entry.seq}` : ""}</td><td>${entry.userId ?? ""}</td><td>${entry.conversationId ?? ""}</td><td>${entry.by}</td><td>${entry.reason ?? ""}</td><td>${entry.until ? new Date(entry.until).toLocaleString() : ""}</td></tr>`,
      )}
    </tbody>
  </table>`;
}
