/**
 * Reports and the audit log. A report shows the reported message with the messages before it; it
 * is resolved once, by dismissing it or acting on it (delete the message, or mute its sender for a
 * day): the action's id derives from the report, so a second click anywhere takes no second action.
 */
import { getJson, postJson } from "../shared/api.ts";
import { every, html, useEffect, useState } from "../shared/html.ts";
import type { AuditEntry, Report, Session } from "./types.ts";
import { AuditTable } from "./users.ts";

export function ReportsView(_props: { session: Session }) {
  const [reports, setReports] = useState<Report[] | undefined>();
  const [status, setStatus] = useState("");
  const load = async () => setReports((await getJson<{ reports: Report[] }>("/admin/api/reports")).reports);
  useEffect(() => every(5000, load), []);

  const resolve = async (report: Report, outcome: "dismiss" | "delete" | "mute") => {
    const reported = report.context.find((message) => message.seq === report.seq);
    const action =
      outcome === "delete"
        ? { actionId: `report:${report.reportId}:delete`, type: "delete", conversationId: report.conversationId, seq: report.seq, reason: `report ${report.reportId}` }
        : { actionId: `report:${report.reportId}:mute`, type: "mute", userId: reported?.senderId, durationMs: 86_400_000, reason: `report ${report.reportId}` };
    try {
      await postJson(`/admin/api/reports/${report.reportId}/resolve`, outcome === "dismiss" ? { outcome } : { outcome: "act", action });
      setStatus(`Report on ${report.conversationId} #${report.seq} resolved.`);
      await load();
    } catch (error) {
      setStatus(`Refused: ${(error as Error).message}`);
    }
  };

  const open = (reports ?? []).filter((report) => !report.resolution);
  const closed = (reports ?? []).filter((report) => report.resolution);
  return html`
    <h2>Reports</h2>
    <p role="status" aria-live="polite">${status}</p>
    <h3>Open (${open.length})</h3>
    ${open.length === 0 && html`<p class="muted">Nothing to review.</p>`}
    ${open.map(
      (report) => html`<article class="report" aria-label=${`Report on ${report.conversationId} message ${report.seq}`}>
        <p><strong>${report.reporterId}</strong> reported <a href=${`#/conversation/${encodeURIComponent(report.conversationId)}`}>${report.conversationId}</a> #${report.seq}: “${report.reason}”</p>
        <ol class="messages">
          ${report.context.map((message) => html`<li class=${message.seq === report.seq ? "reported" : ""}><span class="seq">#${message.seq}</span> ${message.senderName} (${message.senderId}): ${message.deleted ? "message deleted" : message.text}</li>`)}
        </ol>
        <div class="row">
          <button type="button" onClick=${() => resolve(report, "dismiss")}>Dismiss</button>
          <button type="button" class="danger" onClick=${() => resolve(report, "delete")}>Delete the message</button>
          <button type="button" class="danger" onClick=${() => resolve(report, "mute")}>Mute the sender for a day</button>
        </div>
      </article>`,
    )}
    <h3>Resolved</h3>
    <ul>
      ${closed.map((report) => html`<li>${report.conversationId} #${report.seq} (${report.reason}): ${report.resolution!.outcome} by ${report.resolution!.by}</li>`)}
    </ul>
  `;
}

export function AuditView() {
  const [actions, setActions] = useState<AuditEntry[]>([]);
  const [filter, setFilter] = useState("");
  const [failure, setFailure] = useState("");
  const load = async (value: string) => {
    const query = value.trim() ? (value.includes(":") ? `?conversationId=${encodeURIComponent(value.trim())}` : `?userId=${encodeURIComponent(value.trim())}`) : "";
    try {
      setActions((await getJson<{ actions: AuditEntry[] }>(`/admin/api/audit${query}`)).actions);
      setFailure("");
    } catch (error) {
      setFailure((error as Error).message);
    }
  };
  useEffect(() => void load(""), []);
  return html`
    <h2>Audit log</h2>
    <form class="row" onSubmit=${(event: Event) => {
      event.preventDefault();
      void load(filter);
    }}>
      <label>Filter by user id or conversation id<input name="filter" value=${filter} onInput=${(event: Event) => setFilter((event.target as HTMLInputElement).value)} /></label>
      <button type="submit">Filter</button>
    </form>
    ${failure && html`<p role="alert" class="error">${failure}</p>`}
    <${AuditTable} actions=${actions} />
  `;
}
