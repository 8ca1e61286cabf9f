/**
 * The ops console: one page, five views picked by the URL hash (#/cluster, #/conversations,
 * #/conversation/<id>, #/users/<id>, #/reports, #/audit). Reads poll the private API; every change
 * is a POST with the CSRF token from /admin/api/session.
 */
import { getJson, setCsrfToken } from "../shared/api.ts";
import { html, render, useEffect, useState } from "../shared/html.ts";
import { AuditView, ReportsView } from "./reports.ts";
import { ClusterView } from "./cluster.ts";
import { ConversationView, ConversationsView } from "./conversations.ts";
import type { Session } from "./types.ts";
import { UserView } from "./users.ts";

const TABS = [
  ["#/cluster", "Cluster"],
  ["#/conversations", "Conversations"],
  ["#/users/", "Users"],
  ["#/reports", "Reports"],
  ["#/audit", "Audit log"],
] as const;

function useHash(): string {
  const [hash, setHash] = useState(location.hash || "#/cluster");
  useEffect(() => {
    const changed = () => setHash(location.hash || "#/cluster");
    addEventListener("hashchange", changed);
    return () => removeEventListener("hashchange", changed);
  }, []);
  return hash;
}

function View({ hash, session }: { hash: string; session: Session }) {
  const [, section = "", ...rest] = hash.slice(1).split("/");
  const param = decodeURIComponent(rest.join("/"));
  switch (section) {
    case "conversations":
      return html`<${ConversationsView} />`;
    case "conversation":
      return html`<${ConversationView} key=${param} conversationId=${param} />`;
    case "users":
      return html`<${UserView} key=${param} userId=${param} session=${session} />`;
    case "reports":
      return html`<${ReportsView} session=${session} />`;
    case "audit":
      return html`<${AuditView} />`;
    default:
      return html`<${ClusterView} />`;
  }
}

function App() {
  const hash = useHash();
  const [session, setSession] = useState<Session | undefined>();
  const [failure, setFailure] = useState("");
  useEffect(() => {
    getJson<Session>("/admin/api/session").then(
      (loaded) => {
        setCsrfToken(loaded.csrfToken);
        setSession(loaded);
      },
      (error: Error) => setFailure(error.message),
    );
  }, []);
  if (failure) return html`<main><p role="alert" class="error">Cannot open the console: ${failure}</p></main>`;
  if (!session) return html`<main><p role="status">Loading…</p></main>`;
  const section = hash.split("/")[1] ?? "cluster";
  return html`
    <header class="top">
      <h1>Parley console</h1>
      <p class="muted">Signed in as <strong>${session.userId}</strong> (${session.roles.join(", ")})${session.monitor ? html` · <a href=${session.monitor}>Room monitor</a>` : ""}</p>
    </header>
    <nav aria-label="Console sections">
      <ul class="tabs">
        ${TABS.map(([href, label]) => {
          const current = href.split("/")[1] === section || (section === "conversation" && label === "Conversations");
          return html`<li><a href=${href} aria-current=${current ? "page" : undefined}>${label}</a></li>`;
        })}
      </ul>
    </nav>
    <main><${View} hash=${hash} session=${session} /></main>
  `;
}

// Preact diffs against what is in the container: drop the static "Loading…" first.
const root = document.getElementById("app")!;
root.textContent = "";
render(html`<${App} />`, root);
