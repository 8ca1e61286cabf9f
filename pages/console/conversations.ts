/**
 * Conversations: the busiest ones and a search by conversation id or user id; one conversation's
 * members, a live tail of its messages (polled every second from the store), older pages on demand
 * and a delete on each message (the moderation `delete`: a tombstone at its seq, everywhere).
 */
import { getJson, newId, postJson } from "../shared/api.ts";
import { every, html, since, useEffect, useState } from "../shared/html.ts";
import type { Member, Message } from "./types.ts";

type Busy = { conversationId: string; clients: number; node: string };
type Detail = { conversationId: string; room: { roomId: string; node: string; members: Member[] | null } | null; recordedMembers: string[] | null; lastSeq: number; slowModeMs: number };

const conversationLink = (id: string) => `#/conversation/${encodeURIComponent(id)}`;

export function SearchForm() {
  const [query, setQuery] = useState("");
  const submit = (event: Event) => {
    event.preventDefault();
    const value = query.trim();
    if (value) location.hash = value.includes(":") ? conversationLink(value) : `#/users/${encodeURIComponent(value)}`;
  };
  return html`<form class="row" role="search" onSubmit=${submit}>
    <label>Conversation id or user id<input name="query" value=${query} onInput=${(event: Event) => setQuery((event.target as HTMLInputElement).value)} placeholder="channel:lobby, dm:ann:ben or ann" /></label>
    <button type="submit" class="primary">Find</button>
  </form>`;
}

export function ConversationsView() {
  const [busiest, setBusiest] = useState<Busy[] | undefined>();
  useEffect(() => every(5000, async () => setBusiest((await getJson<{ conversations: Busy[] }>("/admin/api/conversations?limit=50")).conversations)), []);
  return html`
    <h2>Conversations</h2>
    <${SearchForm} />
    <h3>Busiest now</h3>
    <table>
      <thead><tr><th scope="col">Conversation</th><th scope="col">Connected</th><th scope="col">Node</th></tr></thead>
      <tbody>
        ${(busiest ?? []).map((room) => html`<tr><td><a href=${conversationLink(room.conversationId)}>${room.conversationId}</a></td><td>${room.clients}</td><td>${room.node}</td></tr>`)}
      </tbody>
    </table>
    ${busiest?.length === 0 && html`<p class="muted">No live conversations.</p>`}
  `;
}

export function ConversationView({ conversationId }: { conversationId: string }) {
  const [detail, setDetail] = useState<Detail | undefined>();
  const [messages, setMessages] = useState<Message[]>([]);
  const [hasOlder, setHasOlder] = useState(false);
  const [status, setStatus] = useState("");
  const [failure, setFailure] = useState("");
  const base = `/admin/api/conversations/${encodeURIComponent(conversationId)}`;

  useEffect(
    () =>
      every(3000, async () => {
        try {
          setDetail(await getJson<Detail>(base));
        } catch (error) {
          setFailure((error as Error).message);
        }
      }),
    [base],
  );
  // The live tail: the newest page first, then everything after the last seq shown; tombstones
  // found by re-reading the newest page now and then.
  useEffect(() => {
    let shown: Message[] = [];
    const merge = (page: Message[]) => {
      const bySeq = new Map(shown.map((message) => [message.seq, message]));
      for (const message of page) bySeq.set(message.seq, message);
      shown = [...bySeq.values()].sort((a, b) => a.seq - b.seq);
      setMessages(shown);
    };
    let first = true;
    return every(1000, async () => {
      try {
        const page = await getJson<{ messages: Message[]; hasMore: boolean }>(`${base}/messages?limit=50`);
        if (first) setHasOlder(page.hasMore);
        first = false;
        merge(page.messages);
        setFailure("");
      } catch (error) {
        setFailure((error as Error).message);
      }
    });
  }, [base]);

  const loadOlder = async () => {
    const page = await getJson<{ messages: Message[]; hasMore: boolean }>(`${base}/messages?limit=50&beforeSeq=${messages[0]?.seq ?? 1}`);
    setMessages((current) => [...page.messages, ...current]);
    setHasOlder(page.hasMore);
  };

  const remove = async (message: Message) => {
    setStatus(`Deleting message ${message.seq}…`);
    try {
      await postJson("/admin/api/actions", { actionId: newId("console-delete"), type: "delete", conversationId, seq: message.seq, reason: "deleted from the console" });
      setMessages((current) => current.map((shown) => (shown.seq === message.seq ? { ...shown, deleted: true, text: "" } : shown)));
      setStatus(`Message ${message.seq} deleted.`);
    } catch (error) {
      setStatus(`Could not delete message ${message.seq}: ${(error as Error).message}`);
    }
  };

  const members = detail?.room?.members;
  return html`
    <h2>${conversationId}</h2>
    <${SearchForm} />
    <p class="muted">${detail ? (detail.room ? `Live on ${detail.room.node}` : "No live room") : "Loading…"}${detail && detail.slowModeMs > 0 ? ` · slow mode ${detail.slowModeMs / 1000} s` : ""}</p>
    <section aria-labelledby="members-title">
      <h3 id="members-title">Connected members</h3>
      <table>
        <thead><tr><th scope="col">User id</th><th scope="col">Name</th><th scope="col">Node</th><th scope="col">Connected since</th></tr></thead>
        <tbody>
          ${(members ?? []).map((member) => html`<tr><td><a href=${`#/users/${encodeURIComponent(member.userId)}`}>${member.userId}</a></td><td>${member.name}</td><td>${detail?.room?.node}</td><td>${since(member.connectedAt)}</td></tr>`)}
        </tbody>
      </table>
      ${detail?.room && members === null && html`<p class="error">The node hosting this room did not answer.</p>`}
      ${detail?.recordedMembers && html`<p class="muted">Recorded members: ${detail.recordedMembers.join(", ") || "none"}</p>`}
    </section>
    <section aria-labelledby="messages-title">
      <h3 id="messages-title">Messages</h3>
      ${failure && html`<p role="alert" class="error">${failure}</p>`}
      <p role="status" aria-live="polite">${status}</p>
      ${hasOlder && html`<button type="button" onClick=${loadOlder}>Load older messages</button>`}
      <ol class="messages" aria-label="Messages, oldest first">
        ${messages.map(
          (message) => html`<li data-seq=${message.seq} class=${message.deleted ? "tombstone" : ""}>
            <span class="seq">#${message.seq}</span>
            <a href=${`#/users/${encodeURIComponent(message.senderId)}`}>${message.senderName} (${message.senderId})</a>
            <time datetime=${message.sentAt}>${new Date(message.sentAt).toLocaleTimeString()}</time>
            <span class="text">${message.deleted ? "message deleted" : message.text}</span>
            ${!message.deleted && html`<button type="button" class="danger" aria-label=${`Delete message ${message.seq} from ${message.senderId}`} onClick=${() => remove(message)}>Delete</button>`}
          </li>`,
        )}
      </ol>
    </section>
  `;
}
