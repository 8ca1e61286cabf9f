/**
 * Per-address bounds and the monitor panel (issue #12): one client address cannot hold a node's
 * connections or flood its matchmaking, a forged X-Forwarded-For entry does not escape the bound
 * behind a trusted proxy, and the monitor cannot put frames on chat sockets or change anything by
 * GET. Real node processes; client addresses are other loopback addresses (127.0.0.2, ...) with no
 * proxy, and X-Forwarded-For entries behind one trusted proxy hop.
 */
import assert from "node:assert/strict";
import { Agent, request as httpRequest, type OutgoingHttpHeaders } from "node:http";
import { connect, type Socket } from "node:net";
import { joinVia, leave, metricOf, type Seated } from "../support/cluster-helpers.ts";
import { startNode, unique, type NodeProcess } from "../support/node-process.ts";
import { waitFor } from "../../deploy/wait-for.ts";

type Answer = { status: number; body: string };
type From = { localAddress?: string; forwardedFor?: string; agent?: Agent };

/** One HTTP exchange from a chosen local address, with an X-Forwarded-For header when given. */
function call(node: NodeProcess, method: string, path: string, from: From = {}, body?: unknown, headers: OutgoingHttpHeaders = {}): Promise<Answer> {
  const payload = body === undefined ? undefined : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        host: "127.0.0.1",
        port: node.port,
        method,
        path,
        localAddress: from.localAddress,
        agent: from.agent ?? false,
        headers: {
          ...headers,
          ...(from.forwardedFor !== undefined && { "x-forwarded-for": from.forwardedFor }),
          ...(payload !== undefined && { "content-type": "application/json", "content-length": Buffer.byteLength(payload) }),
        },
      },
      (res) => {
        let text = "";
        res.setEncoding("utf8");
        res.on("data", (chunk: string) => (text += chunk));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body: text }));
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    req.end(payload);
  });
}

/** Try a WebSocket upgrade; resolves with the HTTP status the node answered (101 when accepted). */
function upgradeStatus(node: NodeProcess, from: From): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({
      host: "127.0.0.1",
      port: node.port,
      path: "/",
      localAddress: from.localAddress,
      agent: false,
      headers: {
        connection: "Upgrade",
        upgrade: "websocket",
        "sec-websocket-version": "13",
        "sec-websocket-key": Buffer.from(unique("key").padEnd(16, "k").slice(0, 16)).toString("base64"),
        ...(from.forwardedFor !== undefined && { "x-forwarded-for": from.forwardedFor }),
      },
    });
    req.on("upgrade", (res, socket) => {
      socket.destroy();
      resolve(res.statusCode ?? 0);
    });
    req.on("response", (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on("error", reject);
    req.end();
  });
}

/**
 * Open a connection and start a request whose body never comes, so it stays open. Resolves once the
 * node said `100 Continue` or closed the connection; `answer` is what the node sent ("" when it
 * closed without a word). Node writes `100 Continue` in the same turn as it hands the request to
 * the guards, so by the time the client reads it the connection is counted; a request refused
 * behind a proxy still gets the `100 Continue`, then its 429: check refusals there with `call`.
 */
function openHeldRequest(node: NodeProcess, from: From): Promise<{ socket: Socket; held: boolean; answer: string }> {
  return new Promise((resolve) => {
    const socket = connect({ host: "127.0.0.1", port: node.port, localAddress: from.localAddress });
    let answer = "";
    socket.setEncoding("utf8");
    socket.on("error", () => undefined);
    socket.once("connect", () => {
      const forwarded = from.forwardedFor === undefined ? "" : `X-Forwarded-For: ${from.forwardedFor}\r\n`;
      socket.write(`POST /held HTTP/1.1\r\nHost: 127.0.0.1\r\n${forwarded}Content-Type: application/json\r\nContent-Length: 2\r\nExpect: 100-continue\r\n\r\n`);
    });
    socket.on("data", (chunk: string) => {
      answer += chunk;
      if (answer.startsWith("HTTP/1.1 100") && answer.includes("\r\n\r\n")) resolve({ socket, held: true, answer });
    });
    socket.once("close", () => resolve({ socket, held: false, answer }));
  });
}

/** Start a join (joinOrCreate of a chat) and return the node's answer. */
function startJoin(node: NodeProcess, conversationId: string, from: From): Promise<Answer> {
  return call(node, "POST", "/matchmake/joinOrCreate/chat", from, { conversationId, userId: unique("u") });
}

const JOIN_REFUSAL = /RATE_LIMITED: too many joins from this address \(retry after \d+ ms\)/;

/** Many joins at once from one address: every one is served or refused RATE_LIMITED by address. */
async function joinBurst(node: NodeProcess, count: number, from: (i: number) => From): Promise<{ served: number; refused: number }> {
  const conversationId = `channel:${unique("burst")}`;
  const answers = await Promise.all(Array.from({ length: count }, (_, i) => startJoin(node, conversationId, from(i))));
  for (const answer of answers) {
    if (answer.status === 200) continue;
    assert.equal(answer.status, 429, answer.body);
    assert.match(answer.body, JOIN_REFUSAL);
  }
  const refused = answers.filter((answer) => answer.status === 429).length;
  return { served: count - refused, refused };
}

/** Wait for the node's warn lines of `event` (they reach us through a pipe, after the answer). */
function warnLines(node: NodeProcess, event: string, what: string): Promise<Array<{ level: number; address?: string }>> {
  const lines = () =>
    node
      .output()
      .split("\n")
      .filter((line) => line.startsWith("{") && line.endsWith("}") && line.includes(`"event":"${event}"`))
      .map((line) => JSON.parse(line) as { level: number; address?: string });
  return waitFor(() => (lines().length > 0 ? lines() : undefined), { what });
}

describe("per-address bounds with no trusted proxy (the TCP peer is the client)", function () {
  this.timeout(30_000);
  let node: NodeProcess;
  const held: Socket[] = [];
  before(async () => {
    node = await startNode({ MAX_CONNECTIONS_PER_IP: "4", JOINS_PER_SEC_PER_IP: "2", HANDSHAKE_TIMEOUT_MS: "600000" });
  });
  afterEach(() => held.splice(0).forEach((socket) => socket.destroy()));
  after(async () => node?.stop());

  it("refuses connections over MAX_CONNECTIONS_PER_IP from one address, counts and logs them, serves other addresses, and admits again once some close", async function () {
    const attacker = { localAddress: "127.0.0.2" };
    const before = await metricOf(node, "parley_ip_limit_refusals_total", 'limit="connections"');
    for (let i = 0; i < 4; i++) {
      const open = await openHeldRequest(node, attacker);
      held.push(open.socket);
      assert.ok(open.held, `connection ${i + 1} of 4 is served`);
    }
    const over = await openHeldRequest(node, attacker);
    held.push(over.socket);
    assert.equal(over.held, false, "the fifth connection is closed");
    assert.equal(over.answer, "", "closed before HTTP saw it");
    assert.equal(await metricOf(node, "parley_ip_limit_refusals_total", 'limit="connections"'), before + 1);
    assert.equal((await call(node, "GET", "/healthz", { localAddress: "127.0.0.3" })).status, 200, "another address is served");
    // X-Forwarded-For means nothing without a trusted proxy.
    assert.equal((await openHeldRequest(node, { ...attacker, forwardedFor: "203.0.113.50" })).held, false);

    held.splice(0, 2).forEach((socket) => socket.destroy());
    await waitFor(async () => (await call(node, "GET", "/healthz", attacker).catch(() => undefined))?.status === 200, { what: "the address to be served again" });

    const lines = await warnLines(node, "ip_connections_refused", "a warn line for refused connections");
    assert.ok(
      lines.every((line) => line.level === 40 && line.address === "127.0.0.2"),
      "a warn line naming the address",
    );
  });

  it("refuses joins over JOINS_PER_SEC_PER_IP from one address RATE_LIMITED, whatever X-Forwarded-For says, and serves another address", async function () {
    const agent = new Agent({ keepAlive: true, maxSockets: 2, localAddress: "127.0.0.4" } as ConstructorParameters<typeof Agent>[0]);
    try {
      const before = await metricOf(node, "parley_ip_limit_refusals_total", 'limit="joins"');
      // 20 at once against 2 a second: only a burst spread over ten seconds would pass whole.
      const { refused } = await joinBurst(node, 20, (i) => ({ agent, forwardedFor: `198.51.100.${i}` }));
      assert.ok(refused >= 1, "joins past the bound are refused");
      assert.equal(await metricOf(node, "parley_ip_limit_refusals_total", 'limit="joins"'), before + refused);
      assert.equal((await startJoin(node, `channel:${unique("c")}`, { localAddress: "127.0.0.5" })).status, 200, "another address joins");
      const lines = await warnLines(node, "ip_joins_refused", "a warn line for refused joins");
      assert.ok(lines.some((line) => line.level === 40 && line.address === "127.0.0.4"));
    } finally {
      agent.destroy();
    }
  });
});

describe("per-address bounds behind one trusted proxy (TRUSTED_PROXY_HOPS=1)", function () {
  this.timeout(30_000);
  let node: NodeProcess;
  const held: Socket[] = [];
  before(async () => {
    node = await startNode({ TRUSTED_PROXY_HOPS: "1", MAX_CONNECTIONS_PER_IP: "3", JOINS_PER_SEC_PER_IP: "2" });
  });
  afterEach(() => held.splice(0).forEach((socket) => socket.destroy()));
  after(async () => node?.stop());

  it("counts connections by the proxy's X-Forwarded-For entry: over the bound is 429 RATE_LIMITED, a forged left entry does not escape, another client is served", async function () {
    const client = "203.0.113.10";
    const before = await metricOf(node, "parley_ip_limit_refusals_total", 'limit="connections"');
    for (let i = 0; i < 3; i++) {
      const open = await openHeldRequest(node, { forwardedFor: client });
      held.push(open.socket);
      assert.ok(open.held, `connection ${i + 1} of 3 is served`);
    }
    const over = await call(node, "GET", "/healthz", { forwardedFor: client });
    assert.equal(over.status, 429, over.body);
    assert.equal(JSON.parse(over.body).error.code, "RATE_LIMITED");
    const forged = await call(node, "GET", "/healthz", { forwardedFor: `198.51.100.7, ${client}` });
    assert.equal(forged.status, 429, "a forged entry left of the proxy's is ignored");
    assert.equal(JSON.parse(forged.body).error.code, "RATE_LIMITED");
    assert.equal(await upgradeStatus(node, { forwardedFor: client }), 429, "a WebSocket upgrade is refused too");
    assert.equal(await metricOf(node, "parley_ip_limit_refusals_total", 'limit="connections"'), before + 3);

    assert.equal((await call(node, "GET", "/healthz", { forwardedFor: "203.0.113.11" })).status, 200, "another client behind the same proxy is served");
    assert.equal((await call(node, "GET", "/healthz", { forwardedFor: `${client}, 203.0.113.11` })).status, 200, "the proxy's entry, not the first, names the client");

    held.shift()!.destroy();
    await waitFor(async () => (await call(node, "GET", "/healthz", { forwardedFor: client })).status === 200, { what: "the client to be served again" });
  });

  it("counts joins by the proxy's X-Forwarded-For entry: a different forged left entry on each does not escape RATE_LIMITED, another client joins", async function () {
    const agent = new Agent({ keepAlive: true, maxSockets: 2 });
    try {
      const before = await metricOf(node, "parley_ip_limit_refusals_total", 'limit="joins"');
      const { refused } = await joinBurst(node, 20, (i) => ({ agent, forwardedFor: `198.51.100.${i}, 203.0.113.20` }));
      assert.ok(refused >= 1, "joins past the bound are refused");
      assert.equal(await metricOf(node, "parley_ip_limit_refusals_total", 'limit="joins"'), before + refused);
      assert.equal((await startJoin(node, `channel:${unique("c")}`, { forwardedFor: "203.0.113.21" })).status, 200, "another client joins");
      const lines = await warnLines(node, "ip_joins_refused", "a warn line for refused joins");
      assert.ok(lines.some((line) => line.level === 40 && line.address === "203.0.113.20"));
    } finally {
      agent.destroy();
    }
  });
});

describe("the monitor panel", function () {
  this.timeout(30_000);
  const password = "monitor-password-for-tests";
  const auth = { authorization: `Basic ${Buffer.from(`admin:${password}`).toString("base64")}` };
  let node: NodeProcess;
  const seated: Seated[] = [];
  before(async () => {
    node = await startNode({ MONITOR_PASSWORD: password, MONITOR_USER: "admin" });
  });
  afterEach(async () => Promise.all(seated.splice(0).map(leave)));
  after(async () => node?.stop());

  async function seat(): Promise<Seated> {
    const one = await joinVia(node, `channel:${unique("mon")}`, unique("alice"));
    seated.push(one);
    return one;
  }

  const monitor = (method: string, path: string, headers: OutgoingHttpHeaders = auth) => call(node, method, `/monitor${path}`, {}, undefined, headers);

  it("asks for credentials", async function () {
    assert.equal((await monitor("GET", "/api", {})).status, 401);
  });

  it("answers 403 FORBIDDEN to Send, Broadcast and any room method call, however spelled, and the seated client receives nothing", async function () {
    const alice = await seat();
    const { roomId, sessionId } = alice.room;
    const query = (method: string, args: unknown[]) => new URLSearchParams({ roomId, method, args: JSON.stringify(args) }).toString();
    const calls: Array<[string, string]> = [
      ["GET", `/api/room/call?${query("_sendMessageToClient", [sessionId, "monitor-probe", { text: "from the monitor" }])}`],
      ["GET", `/api/room/call?${query("broadcast", ["monitor-probe", { text: "to everyone" }])}`],
      ["GET", `/api/room/call?${query("serviceSend", [{ senderId: "ghost", clientMsgId: "x", text: "forged" }])}`],
      ["GET", `/api/room/call?${query("_forceClientDisconnect", [sessionId])}`],
      ["GET", `/api/room/call?${query("disconnect", [])}`],
      ["POST", `/api/room/call?${query("broadcast", ["monitor-probe", {}])}`],
      ["DELETE", `/api/room/call?${query("disconnect", [])}`],
      ["GET", `/api/room/call/?${query("broadcast", ["monitor-probe", {}])}`],
      ["GET", `/API/Room/Call?${query("broadcast", ["monitor-probe", {}])}`],
      ["GET", `//api/room//call?${query("broadcast", ["monitor-probe", {}])}`],
      ["GET", `/api/room/%63all?${query("broadcast", ["monitor-probe", {}])}`],
    ];
    for (const [method, path] of calls) {
      const answer = await monitor(method, path);
      assert.equal(answer.status, 403, `${method} ${path}: ${answer.body}`);
      assert.equal(JSON.parse(answer.body).error.code, "FORBIDDEN");
    }
    // A reply comes after every frame sent before it on the same socket: had a probe gone out, it is here by now.
    const reply = (await alice.room.request("send", { clientMsgId: unique("m"), text: "after the monitor" })) as { seq: number };
    assert.equal(reply.seq, 1, "nothing was written into the conversation");
    assert.equal(alice.received.has("monitor-probe"), false, "no frame from the monitor reached the client");
    assert.ok(alice.room.connection.isOpen, "the client is still connected");
  });

  it("keeps the read-only views: the page and its assets, the room list, a room's clients", async function () {
    const alice = await seat();
    const page = await monitor("GET", "/");
    assert.equal(page.status, 200);
    const script = /src="\.\/(assets\/[^"]+\.js)"/.exec(page.body)?.[1];
    assert.ok(script, "the page names its script");
    assert.equal((await monitor("GET", `/${script}`)).status, 200);
    const list = await monitor("GET", "/api");
    assert.equal(list.status, 200, list.body);
    assert.ok((JSON.parse(list.body) as { rooms: Array<{ roomId: string }> }).rooms.some((room) => room.roomId === alice.room.roomId));
    const details = await monitor("GET", `/api/room?roomId=${alice.room.roomId}`);
    assert.equal(details.status, 200, details.body);
    assert.ok((JSON.parse(details.body) as { clients: Array<{ sessionId: string }> }).clients.some((client) => client.sessionId === alice.room.sessionId));
  });

  it("closes a client only by DELETE from its own page: never by GET, never from another site", async function () {
    const alice = await seat();
    const path = `/api/rooms/${alice.room.roomId}/clients/${alice.room.sessionId}`;
    assert.equal((await monitor("GET", path)).status, 404);
    assert.equal((await monitor("POST", path)).status, 404);
    const crossSite = await monitor("DELETE", path, { ...auth, "sec-fetch-site": "cross-site" });
    assert.equal(crossSite.status, 403);
    assert.equal((await monitor("DELETE", path, { ...auth, origin: "https://evil.example" })).status, 403);
    assert.ok(alice.room.connection.isOpen, "still connected after every refused call");
    assert.equal((await monitor("DELETE", path)).status, 204);
    assert.equal(await alice.left, 4000, "closed as a consented leave");
    assert.equal((await monitor("DELETE", `/api/rooms/${unique("nosuchroom")}`)).status, 404);
  });

  it("closes a room by DELETE: it leaves the room list", async function () {
    const alice = await seat();
    assert.equal((await monitor("GET", `/api/rooms/${alice.room.roomId}`)).status, 404, "no state change by GET");
    assert.equal((await monitor("DELETE", `/api/rooms/${alice.room.roomId}`)).status, 204);
    await alice.left;
    await waitFor(async () => !(JSON.parse((await monitor("GET", "/api")).body) as { rooms: Array<{ roomId: string }> }).rooms.some((room) => room.roomId === alice.room.roomId), {
      what: "the room to leave the list",
    });
  });
});
