/**
 * The demo chat page: sign in with a development identity (or a token), channels, groups and DMs,
 * typing, unread counts, history on scroll, the connection state, tombstones, and refusals in plain
 * words. Everything goes through the client kit (client/), bundled into this page.
 */
import { getJson } from "../shared/api.ts";
import { html, render, useEffect, useRef, useState } from "../shared/html.ts";
import { ChatModel, type Connection, type ConversationView, dmIdWith } from "./chat-model.ts";

type DemoConfig = { endpoints: string[]; developmentIdentities: boolean };

const CONNECTION_TEXT: Record<Connection, string> = {
  connecting: "Connecting…",
  connected: "Connected",
  reconnecting: "Connection lost: reconnecting…",
  moved: "Moved to another server: still connected",
  disconnected: "Not connected",
};

const value = (setter: (value: string) => void) => (event: Event) => setter((event.target as HTMLInputElement).value);

function SignIn({ config, onSignIn }: { config: DemoConfig; onSignIn: (userId: string, name: string, token?: string) => void }) {
  const [userId, setUserId] = useState("");
  const [name, setName] = useState("");
  const [token, setToken] = useState("");
  const submit = (event: Event) => {
    event.preventDefault();
    if (/^[A-Za-z0-9_-]{1,64}$/.test(userId.trim())) onSignIn(userId.trim(), name.trim() || userId.trim(), token.trim() || undefined);
  };
  return html`<main class="sign-in">
    <h1>Parley demo chat</h1>
    <form onSubmit=${submit} class="stack">
      <label>User id (letters, digits, - and _)<input name="userId" value=${userId} onInput=${value(setUserId)} required pattern="[A-Za-z0-9_\\-]{1,64}" autocomplete="username" /></label>
      <label>Display name<input name="name" value=${name} onInput=${value(setName)} maxlength="64" /></label>
      ${!config.developmentIdentities && html`<label>Token (this server needs one)<input name="token" type="password" value=${token} onInput=${value(setToken)} required /></label>`}
      <button type="submit" class="primary">Sign in</button>
    </form>
  </main>`;
}

function Sidebar({ model }: { model: ChatModel }) {
  const [channel, setChannel] = useState("");
  const [group, setGroup] = useState("");
  const [dm, setDm] = useState("");
  const open = (id: string) => void model.open(id);
  const form = (label: string, name: string, current: string, setter: (value: string) => void, toId: (value: string) => string) =>
    html`<form class="row" onSubmit=${(event: Event) => {
      event.preventDefault();
      if (/^[A-Za-z0-9_-]{1,64}$/.test(current.trim())) open(toId(current.trim()));
      setter("");
    }}>
      <label>${label}<input name=${name} value=${current} onInput=${value(setter)} /></label>
      <button type="submit">Open</button>
    </form>`;
  return html`<nav class="sidebar" aria-label="Conversations">
    <ul class="conversations">
      ${[...model.conversations.values()].map(
        (view) => html`<li><button type="button" class="conversation" aria-current=${model.active === view.id ? "true" : undefined} onClick=${() => open(view.id)}>
          <span>${view.title}</span>${view.unread > 0 && html`<span class="badge" aria-label=${`${view.unread} unread`}>${view.unread}</span>`}
        </button></li>`,
      )}
    </ul>
    ${form("Join a channel", "channel", channel, setChannel, (id) => `channel:${id}`)}
    ${form("Open a group", "group", group, setGroup, (id) => `group:${id}`)}
    ${form("Message a user (user id)", "dm", dm, setDm, (id) => dmIdWith(model.userId, id))}
  </nav>`;
}

function Messages({ model, view }: { model: ChatModel; view: ConversationView }) {
  const list = useRef<HTMLOListElement>(null);
  const messages = [...view.messages.values()].sort((a, b) => a.seq - b.seq);
  const last = messages.at(-1)?.seq;
  useEffect(() => {
    const element = list.current;
    if (element) element.scrollTop = element.scrollHeight;
  }, [last, view.id]);
  const onScroll = (event: Event) => {
    if ((event.target as HTMLElement).scrollTop === 0 && view.hasOlder) void model.loadOlder();
  };
  return html`<div class="messages-wrap">
    ${view.hasOlder && html`<button type="button" onClick=${() => model.loadOlder()}>Load older messages</button>`}
    <ol class="messages" ref=${list} onScroll=${onScroll} tabindex="0" aria-label=${`Messages in ${view.title}`} aria-live="polite">
      ${messages.map(
        (message) => html`<li data-seq=${message.seq} class=${message.deleted ? "tombstone" : ""}>
          <span class="sender">${message.senderName}</span>
          <time datetime=${message.sentAt}>${new Date(message.sentAt).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" })}</time>
          <span class="text">${message.deleted ? "This message was deleted." : message.text}</span>
        </li>`,
      )}
      ${view.pending.map(
        (pending) => html`<li class=${pending.refusal ? "refused" : "pending"} data-pending=${pending.id}>
          <span class="sender">You</span>
          <span class="text">${pending.text}</span>
          ${pending.refusal ? html`<span role="alert" class="refusal">${pending.refusal}</span> <button type="button" onClick=${() => model.dismiss(pending.id)}>Dismiss</button>` : html`<span class="muted">${pending.slow ? "Still sending… if you send many messages quickly, Parley holds them back for a moment." : "Sending…"}</span>`}
        </li>`,
      )}
    </ol>
  </div>`;
}

function Composer({ model }: { model: ChatModel }) {
  const [text, setText] = useState("");
  const submit = (event: Event) => {
    event.preventDefault();
    model.send(text);
    setText("");
  };
  return html`<form class="composer" onSubmit=${submit}>
    <label class="visually-hidden" for="composer">Message</label>
    <input id="composer" name="message" value=${text} autocomplete="off" maxlength="2000" onInput=${(event: Event) => {
      setText((event.target as HTMLInputElement).value);
      model.typing();
    }} placeholder="Write a message" />
    <button type="submit" class="primary">Send</button>
  </form>`;
}

function Chat({ model }: { model: ChatModel }) {
  const view = model.active ? model.conversations.get(model.active) : undefined;
  const typing = view?.typing && view.typing.until > Date.now() ? `${view.typing.name} is typing…` : "";
  return html`<div class="chat">
    <header class="top">
      <h1>Parley demo</h1>
      <p>Signed in as <strong>${model.userId}</strong></p>
      <p role="status" class=${`connection ${model.connection}`} data-state=${model.connection}>${CONNECTION_TEXT[model.connection]}</p>
    </header>
    <${Sidebar} model=${model} />
    <main class="conversation-pane">
      ${
        view
          ? html`<h2>${view.title}</h2>
            ${view.problem && html`<p role="alert" class="error">${view.problem}</p>`}
            <${Messages} model=${model} view=${view} />
            <p class="typing" aria-live="polite">${typing}</p>
            ${view.joined && html`<${Composer} model=${model} />`}`
          : html`<p class="muted">Open a channel, a group or a direct message.</p>`
      }
    </main>
  </div>`;
}

function App() {
  const [config, setConfig] = useState<DemoConfig | undefined>();
  const [model, setModel] = useState<ChatModel | undefined>();
  const [, setVersion] = useState(0);
  const [failure, setFailure] = useState("");
  useEffect(() => {
    getJson<DemoConfig>("/demo/api/config").then(setConfig, (error: Error) => setFailure(error.message));
    // Typing notes expire without an event: redraw every second.
    const timer = setInterval(() => setVersion((version) => version + 1), 1000);
    return () => clearInterval(timer);
  }, []);
  if (failure) return html`<main><p role="alert" class="error">${failure}</p></main>`;
  if (!config) return html`<main><p role="status">Loading…</p></main>`;
  if (!model) {
    return html`<${SignIn} config=${config} onSignIn=${(userId: string, name: string, token?: string) => {
      const created = new ChatModel(userId, { endpoints: config.endpoints, name, ...(token && { token }) }, () => setVersion((version) => version + 1));
      setModel(created);
      void created.start().catch(() => undefined);
      void created.open("channel:lobby");
    }} />`;
  }
  return html`<${Chat} model=${model} />`;
}

// Preact diffs against what is in the container: drop the static "Loading…" first.
const root = document.getElementById("app")!;
root.textContent = "";
render(html`<${App} />`, root);
