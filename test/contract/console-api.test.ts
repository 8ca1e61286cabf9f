/**
 * The ops console's private API (/admin/api, issue #13) at the level of its routes: a real node
 * process, plain fetch. Who may call it (no credentials, a wrong password, a player's token, a
 * moderator, an admin, the sign-in cookie), the guards on every change (CSRF token, another site's
 * page, GET never changes anything), typed refusals of bad input, idempotent actions, the audit log
 * naming the operator, report resolutions taken once, the security headers of every answer, and no
 * /demo in production unless DEMO=on.
 */
import assert from "node:assert/strict";
import { freePort } from "../../deploy/services.ts";
import { isolatedRedis } from "../support/cluster-helpers.ts";
import { type NodeProcess, sdkClient, signToken, startNode, unique } from "../support/node-process.ts";

const SECRET = "console-api-test-secret-of-at-least-32-bytes";
const PASSWORD = "console-api-password-123";

type Answer = { status: number; headers: Headers; body: any };
type CallOptions = { authorization?: string; headers?: Record<string, string>; body?: unknown };

const basic = (password: string, user = "admin") => `Basic ${Buffer.from(`${user}:${password}`).toString("base64")}`;
const bearer = (token: string) => `Bearer ${token}`;

function assertRefused(answer: Answer, status: number, code: string, message?: RegExp): void {
  assert.equal(answer.status, status, JSON.stringify(answer.body));
  assert.equal(answer.body?.error?.code, code, JSON.stringify(answer.body));
  if (message) assert.match(answer.body.error.message, message);
}

describe("ops console API (/admin/api)", function () {
  this.timeout(60_000);
  let node: NodeProcess;
  const ids = { admin: unique("adm"), moderator: unique("mod"), player: unique("pl") };
  const as = { monitor: basic(PASSWORD), admin: "", moderator: "", player: "" };

  async function call(method: string, path: string, options: CallOptions = {}): Promise<Answer> {
    const { authorization, headers = {}, body } = options;
    const response = await fetch(`${node.httpUrl}${path}`, {
      method,
      redirect: "manual",
      headers: { ...(authorization && { authorization }), ...(body !== undefined && { "content-type": "application/json" }), ...headers },
      ...(body !== undefined && { body: typeof body === "string" ? body : JSON.stringify(body) }),
    });
    const text = await response.text();
    let parsed: unknown = text;
    try {
      parsed = JSON.parse(text);
    } catch {
      // HTML (the page, the sign-in form): kept as text.
    }
    return { status: response.status, headers: response.headers, body: parsed };
  }

  /** The operator's CSRF token, as the page gets it. */
  async function csrfOf(authorization: string): Promise<string> {
    const session = await call("GET", "/admin/api/session", { authorization });
    assert.equal(session.status, 200, JSON.stringify(session.body));
    return session.body.csrfToken as string;
  }

  /** A POST as the page makes it: credentials, JSON, the operator's CSRF token (and `headers` on top). */
  async function post(path: string, authorization: string, body: unknown, headers: Record<string, string> = {}): Promise<Answer> {
    return call("POST", path, { authorization, body, headers: { "x-csrf-token": await csrfOf(authorization), ...headers } });
  }

  const mute = (userId: string, extra: Record<string, unknown> = {}) => ({ actionId: unique("act"), type: "mute", userId, reason: "test", ...extra });

  /** What the console says of a user: sanctions in force and audit entries. */
  async function moderationOf(userId: string): Promise<{ sanctions: Array<{ kind: string }>; audit: Array<{ actionId: string; type: string; by: string }> }> {
    const answer = await call("GET", `/admin/api/users/${userId}`, { authorization: as.monitor });
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    return answer.body;
  }

  async function assertUntouched(userId: string): Promise<void> {
    const { sanctions, audit } = await moderationOf(userId);
    assert.deepEqual(sanctions, [], "no sanction was put in force");
    assert.deepEqual(audit, [], "nothing was written to the audit log");
  }

  before(async () => {
    node = await startNode({ JWT_SECRET: SECRET, MONITOR_PASSWORD: PASSWORD });
    as.admin = bearer(await signToken(SECRET, { sub: ids.admin, roles: ["admin"] }));
    as.moderator = bearer(await signToken(SECRET, { sub: ids.moderator, roles: ["moderator"] }));
    // A player's token carries no operator role (the identity service gives players none).
    as.player = bearer(await signToken(SECRET, { sub: ids.player }));
  });
  after(async () => node?.stop());

  it("refuses 401 UNAUTHENTICATED every API call without credentials, and shows /admin's sign-in form instead of the page", async () => {
    const reads = ["session", "cluster", "conversations", "conversations/channel:lobby", "conversations/channel:lobby/messages", "users/someone", "reports", "audit"];
    for (const path of reads) assertRefused(await call("GET", `/admin/api/${path}`), 401, "UNAUTHENTICATED");
    const target = unique("t");
    assertRefused(await call("POST", "/admin/api/actions", { body: mute(target) }), 401, "UNAUTHENTICATED");
    assertRefused(await call("POST", `/admin/api/reports/rep_${"0".repeat(24)}/resolve`, { body: { outcome: "dismiss" } }), 401, "UNAUTHENTICATED");
    await assertUntouched(target);

    const page = await call("GET", "/admin/");
    assert.equal(page.status, 401);
    assert.match(page.headers.get("www-authenticate") ?? "", /^Basic realm="Parley console"/);
    assert.match(page.body, /<form method="post" action="\/admin\/session">/);
    assert.doesNotMatch(page.body, /<script/, "the sign-in page runs no script");
  });

  it("refuses 401 a wrong monitor password or user, and a token signed with another secret or expired", async () => {
    assertRefused(await call("GET", "/admin/api/session", { authorization: basic("not-the-password-123") }), 401, "UNAUTHENTICATED", /wrong user or password/);
    assertRefused(await call("GET", "/admin/api/session", { authorization: basic(PASSWORD, "root") }), 401, "UNAUTHENTICATED");
    const forged = await signToken("another-secret-of-at-least-32-bytes-long", { sub: "mallory", roles: ["admin"] });
    assertRefused(await call("GET", "/admin/api/cluster", { authorization: bearer(forged) }), 401, "UNAUTHENTICATED");
    const expired = await signToken(SECRET, { sub: ids.admin, roles: ["admin"] }, Math.floor(Date.now() / 1000) - 60);
    assertRefused(await call("GET", "/admin/api/cluster", { authorization: bearer(expired) }), 401, "UNAUTHENTICATED");
  });

  it("refuses 403 FORBIDDEN a player's token (no operator role): reads, changes and the sign-in form", async () => {
    assertRefused(await call("GET", "/admin/api/session", { authorization: as.player }), 403, "FORBIDDEN");
    assertRefused(await call("GET", "/admin/api/audit", { authorization: as.player }), 403, "FORBIDDEN");
    const target = unique("t");
    assertRefused(await call("POST", "/admin/api/actions", { authorization: as.player, body: mute(target) }), 403, "FORBIDDEN");
    await assertUntouched(target);
    // A role the protocol does not know (`user`) makes the token invalid, not merely unprivileged.
    const unknownRole = bearer(await signToken(SECRET, { sub: ids.player, roles: ["user"] }));
    assertRefused(await call("GET", "/admin/api/session", { authorization: unknownRole }), 401, "UNAUTHENTICATED", /roles must be a list/);

    const form = await call("POST", "/admin/session", {
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: `token=${encodeURIComponent(as.player.slice(7))}`,
    });
    assert.equal(form.status, 401);
    assert.equal(form.headers.get("set-cookie"), null, "no session cookie for a player");
    assert.match(form.body, /needs role admin or moderator/);
  });

  it("lets a moderator read and act, keeps ban and unban for admins (403 FORBIDDEN), and lets an admin ban", async () => {
    const target = unique("t");
    const session = await call("GET", "/admin/api/session", { authorization: as.moderator });
    assert.equal(session.status, 200);
    assert.deepEqual([session.body.userId, session.body.roles, session.body.adminOnlyActions], [ids.moderator, ["moderator"], ["ban", "unban"]]);
    const cluster = await call("GET", "/admin/api/cluster", { authorization: as.moderator });
    assert.equal(cluster.status, 200);
    assert.equal(cluster.body.nodes.length, 1);
    assert.equal((await call("GET", `/admin/api/users/${target}`, { authorization: as.moderator })).status, 200);
    assert.equal((await call("GET", "/admin/api/audit", { authorization: as.moderator })).status, 200);

    const muted = await post("/admin/api/actions", as.moderator, mute(target));
    assert.equal(muted.status, 200, JSON.stringify(muted.body));
    assert.equal(muted.body.duplicate, false);
    const refusedBan = { actionId: unique("act"), type: "ban", userId: target };
    assertRefused(await post("/admin/api/actions", as.moderator, refusedBan), 403, "FORBIDDEN", /admin/);
    assertRefused(await post("/admin/api/actions", as.moderator, { actionId: unique("act"), type: "unban", userId: target }), 403, "FORBIDDEN");
    let state = await moderationOf(target);
    assert.deepEqual(
      state.sanctions.map((sanction) => sanction.kind),
      ["mute"],
      "the moderator's ban was not put in force",
    );
    assert.ok(!state.audit.some((entry) => entry.actionId === refusedBan.actionId));

    const banned = await post("/admin/api/actions", as.admin, { actionId: unique("act"), type: "ban", userId: target, reason: "admin's call" });
    assert.equal(banned.status, 200, JSON.stringify(banned.body));
    state = await moderationOf(target);
    assert.deepEqual(state.sanctions.map((sanction) => sanction.kind).sort(), ["ban", "mute"]);
  });

  it("refuses 403 FORBIDDEN a POST without the operator's CSRF token, with another operator's or a made-up one, and changes nothing", async () => {
    const target = unique("t");
    const csrf = await csrfOf(as.moderator);
    assertRefused(await call("POST", "/admin/api/actions", { authorization: as.admin, body: mute(target) }), 403, "FORBIDDEN", /CSRF/);
    assertRefused(await call("POST", "/admin/api/actions", { authorization: as.admin, body: mute(target), headers: { "x-csrf-token": csrf } }), 403, "FORBIDDEN", /CSRF/);
    assertRefused(await call("POST", "/admin/api/actions", { authorization: as.admin, body: mute(target), headers: { "x-csrf-token": "x".repeat(43) } }), 403, "FORBIDDEN");
    assertRefused(await call("POST", `/admin/api/reports/rep_${"1".repeat(24)}/resolve`, { authorization: as.monitor, body: { outcome: "dismiss" } }), 403, "FORBIDDEN");
    await assertUntouched(target);
  });

  it("refuses 403 FORBIDDEN any API call or change from another site's page (Sec-Fetch-Site, or a foreign Origin), and changes nothing", async () => {
    const target = unique("t");
    // Another site's page cannot even read the CSRF token, even though Colyseus answers CORS preflights for any origin.
    assertRefused(await call("GET", "/admin/api/session", { authorization: as.monitor, headers: { "sec-fetch-site": "cross-site" } }), 403, "FORBIDDEN");
    assertRefused(await call("GET", "/admin/api/session", { authorization: as.monitor, headers: { origin: "http://evil.example" } }), 403, "FORBIDDEN");
    const foreign: Array<Record<string, string>> = [{ "sec-fetch-site": "cross-site" }, { "sec-fetch-site": "same-site" }, { origin: "http://evil.example" }, { origin: "null" }];
    for (const headers of foreign) {
      assertRefused(await post("/admin/api/actions", as.monitor, mute(target), headers), 403, "FORBIDDEN");
    }
    // Nor sign anyone in (login CSRF).
    const form = await call("POST", "/admin/session", {
      headers: { "content-type": "application/x-www-form-urlencoded", "sec-fetch-site": "cross-site" },
      body: `token=${encodeURIComponent(as.moderator.slice(7))}`,
    });
    assertRefused(form, 403, "FORBIDDEN");
    assert.equal(form.headers.get("set-cookie"), null);
    await assertUntouched(target);

    // The console's own page (same origin) passes the same guard.
    const own = await post("/admin/api/actions", as.monitor, mute(target), { "sec-fetch-site": "same-origin", origin: node.httpUrl });
    assert.equal(own.status, 200, JSON.stringify(own.body));
  });

  it("changes nothing on a GET to a state-changing path: 404 NOT_FOUND", async () => {
    const target = unique("t");
    const query = new URLSearchParams({ actionId: unique("act"), type: "mute", userId: target }).toString();
    assertRefused(await call("GET", `/admin/api/actions?${query}`, { authorization: as.monitor }), 404, "NOT_FOUND");
    assertRefused(await call("GET", `/admin/api/reports/rep_${"2".repeat(24)}/resolve?outcome=dismiss`, { authorization: as.monitor }), 404, "NOT_FOUND");
    await assertUntouched(target);
  });

  it("refuses 400 INVALID with a typed error naming the problem: malformed JSON, an unknown action type, a mute without userId, an unknown field", async () => {
    const target = unique("t");
    assertRefused(await post("/admin/api/actions", as.monitor, '{"actionId": "a1", "type": "mute", '), 400, "INVALID", /JSON/);
    const unknownType = { actionId: unique("act"), type: "nuke", userId: target };
    assertRefused(await post("/admin/api/actions", as.monitor, unknownType), 400, "INVALID", /type must be one of mute, unmute/);
    assertRefused(await post("/admin/api/actions", as.monitor, { actionId: unique("act"), type: "mute" }), 400, "INVALID", /mute needs userId/);
    assertRefused(await post("/admin/api/actions", as.monitor, { ...mute(target), until: "forever" }), 400, "INVALID");
    assertRefused(await post(`/admin/api/reports/rep_${"3".repeat(24)}/resolve`, as.monitor, { outcome: "shrug" }), 400, "INVALID");
    assertRefused(await post("/admin/api/reports/not-a-report/resolve", as.monitor, { outcome: "dismiss" }), 400, "INVALID", /report id/);
    await assertUntouched(target);
  });

  it("takes an action once for an actionId posted twice: one audit entry, the second answer a duplicate", async () => {
    const target = unique("t");
    const action = mute(target);
    const first = await post("/admin/api/actions", as.monitor, action);
    const second = await post("/admin/api/actions", as.moderator, action);
    assert.equal(first.status, 200, JSON.stringify(first.body));
    assert.equal(second.status, 200, JSON.stringify(second.body));
    assert.deepEqual([first.body.duplicate, second.body.duplicate], [false, true]);
    assert.equal(second.body.at, first.body.at);
    const { audit } = await moderationOf(target);
    assert.deepEqual(
      audit.map((entry) => [entry.actionId, entry.by]),
      [[action.actionId, "admin"]],
      "one audit entry, by the first operator",
    );
  });

  it("writes every change to the audit log with its operator: the monitor's user, an admin's and a moderator's token", async () => {
    const target = unique("t");
    const conversationId = `channel:${unique("c")}`;
    const changes = [
      [as.monitor, { actionId: unique("act"), type: "shadow_mute", userId: target }, "admin"],
      [as.moderator, { actionId: unique("act"), type: "kick", userId: target, conversationId }, ids.moderator],
      [as.admin, { actionId: unique("act"), type: "unmute", userId: target }, ids.admin],
    ] as const;
    for (const [authorization, action] of changes) assert.equal((await post("/admin/api/actions", authorization, action)).status, 200);
    const byUser = await call("GET", `/admin/api/audit?userId=${target}`, { authorization: as.moderator });
    assert.equal(byUser.status, 200);
    const entries = new Map((byUser.body.actions as Array<{ actionId: string; type: string; by: string }>).map((entry) => [entry.actionId, entry]));
    assert.equal(entries.size, changes.length);
    for (const [, action, by] of changes) assert.deepEqual([entries.get(action.actionId)?.type, entries.get(action.actionId)?.by], [action.type, by]);
    const byConversation = await call("GET", `/admin/api/audit?conversationId=${conversationId}`, { authorization: as.moderator });
    assert.deepEqual(
      (byConversation.body.actions as Array<{ type: string; by: string }>).map((entry) => [entry.type, entry.by]),
      [["kick", ids.moderator]],
    );
  });

  it("signs a moderator in with the token form into an HttpOnly, SameSite=Strict cookie, which still needs the CSRF token to change anything", async () => {
    const form = await call("POST", "/admin/session", {
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: `token=${encodeURIComponent(as.moderator.slice(7))}`,
    });
    assert.equal(form.status, 303);
    assert.equal(form.headers.get("location"), "/admin");
    const setCookie = form.headers.get("set-cookie") ?? "";
    assert.match(setCookie, /^parley_console=[^;]+; Path=\/admin; HttpOnly; SameSite=Strict$/);
    const cookie = setCookie.split(";")[0]!;

    const session = await call("GET", "/admin/api/session", { headers: { cookie } });
    assert.equal(session.status, 200);
    assert.equal(session.body.userId, ids.moderator);
    const target = unique("t");
    assertRefused(await call("POST", "/admin/api/actions", { headers: { cookie }, body: mute(target) }), 403, "FORBIDDEN", /CSRF/);
    await assertUntouched(target);
    const action = mute(target);
    const done = await call("POST", "/admin/api/actions", { headers: { cookie, "x-csrf-token": session.body.csrfToken }, body: action });
    assert.equal(done.status, 200, JSON.stringify(done.body));
    assert.deepEqual(
      (await moderationOf(target)).audit.map((entry) => [entry.actionId, entry.by]),
      [[action.actionId, ids.moderator]],
    );
  });

  it("resolves a report once: a second resolution, even one acting on it, takes no action and keeps the first", async () => {
    const conversationId = `channel:${unique("rep")}`;
    const [senderId, reporterId] = [unique("snd"), unique("rpt")];
    const sender = await sdkClient(node, await signToken(SECRET, { sub: senderId })).joinOrCreate("chat", { conversationId });
    const reporter = await sdkClient(node, await signToken(SECRET, { sub: reporterId })).joinOrCreate("chat", { conversationId });
    for (const room of [sender, reporter]) room.onMessage("*", () => undefined);
    try {
      const { seq } = (await sender.request("send", { clientMsgId: unique("m"), text: "something rude" })) as { seq: number };
      const { reportId } = (await reporter.request("report", { seq, reason: "rude" })) as { reportId: string };
      const listed = await call("GET", "/admin/api/reports", { authorization: as.moderator });
      const open = (listed.body.reports as Array<{ reportId: string; resolution: unknown; context: Array<{ text: string }> }>).find((report) => report.reportId === reportId);
      assert.ok(open, "the report is listed");
      assert.equal(open.resolution, null);
      assert.equal(open.context.at(-1)?.text, "something rude");

      const dismissed = await post(`/admin/api/reports/${reportId}/resolve`, as.moderator, { outcome: "dismiss" });
      assert.equal(dismissed.status, 200, JSON.stringify(dismissed.body));
      assert.deepEqual([dismissed.body.resolution.outcome, dismissed.body.resolution.by], ["dismissed", ids.moderator]);

      const muteSender = { actionId: `report:${reportId}:mute`, type: "mute", userId: senderId, durationMs: 86_400_000 };
      const again = await post(`/admin/api/reports/${reportId}/resolve`, as.admin, { outcome: "act", action: muteSender });
      assert.equal(again.status, 200, JSON.stringify(again.body));
      assert.deepEqual([again.body.resolution.outcome, again.body.resolution.by, again.body.action], ["dismissed", ids.moderator, null], "the first resolution stands");
      await assertUntouched(senderId);
      const relisted = await call("GET", "/admin/api/reports", { authorization: as.moderator });
      const resolved = (relisted.body.reports as Array<{ reportId: string; resolution: { outcome: string } | null }>).find((report) => report.reportId === reportId);
      assert.equal(resolved?.resolution?.outcome, "dismissed");
      const v1 = await call("GET", "/v1/moderation/reports", { authorization: as.moderator });
      const publicReport = (v1.body.reports as Array<{ reportId: string }>).find((report) => report.reportId === reportId);
      assert.ok(publicReport && !("resolution" in publicReport), "the v1 listing keeps its protocol 1.1 fields");
    } finally {
      await Promise.all([sender.leave(), reporter.leave()]);
    }
  });

  it("refuses NOT_FOUND to resolve a report that was never made, and takes no action for it", async () => {
    const target = unique("t");
    const unknownReport = `/admin/api/reports/rep_${"4".repeat(24)}/resolve`;
    assertRefused(await post(unknownReport, as.admin, { outcome: "act", action: mute(target) }), 404, "NOT_FOUND");
    assertRefused(await post(unknownReport, as.moderator, { outcome: "dismiss" }), 404, "NOT_FOUND");
    await assertUntouched(target);
  });

  it("answers the page, the API (refusals too) and the demo page with a strict CSP, no framing, no sniffing and no caching", async () => {
    const answers = [
      await call("GET", "/admin/", { authorization: as.monitor }),
      await call("GET", "/admin/"),
      await call("GET", "/admin/api/session", { authorization: as.monitor }),
      await call("GET", "/admin/api/cluster"),
      await call("GET", "/admin/api/no-such-route", { authorization: as.monitor }),
      await call("GET", "/demo/"),
      await call("GET", "/demo/api/config"),
    ];
    assert.equal(answers[0]!.status, 200);
    assert.match(answers[0]!.body, /<script src="\/admin\/assets\/page.js"><\/script>/);
    assertRefused(answers[4]!, 404, "NOT_FOUND");
    assert.equal(answers[5]!.status, 200);
    for (const answer of answers) {
      const csp = answer.headers.get("content-security-policy") ?? "";
      for (const directive of ["default-src 'self'", "script-src 'self'", "style-src 'self'", "frame-ancestors 'none'", "object-src 'none'"])
        assert.ok(csp.includes(directive), `${directive} in ${csp}`);
      assert.equal(answer.headers.get("x-frame-options"), "DENY");
      assert.equal(answer.headers.get("x-content-type-options"), "nosniff");
      assert.equal(answer.headers.get("cache-control"), "no-store");
    }
  });
});

describe("the demo page in production", function () {
  this.timeout(60_000);
  let node: NodeProcess | undefined;
  let disconnect = () => undefined as void;
  after(async () => {
    await node?.stop();
    disconnect();
  });

  it("is not served without DEMO=on (404), while the console stays mounted and guarded", async () => {
    if (!process.env.MONGO_URL) throw new Error("MONGO_URL is not set: run the suite through npm test, which provisions the store");
    const { url, redis } = await isolatedRedis();
    disconnect = () => redis.disconnect();
    const port = await freePort();
    node = await startNode({ NODE_ENV: "production", PORT: String(port), PUBLIC_ADDRESS: `127.0.0.1:${port}`, REDIS_URL: url, MONGO_URL: process.env.MONGO_URL, JWT_SECRET: SECRET });
    for (const path of ["/demo/", "/demo/api/config", "/demo/assets/page.js"]) {
      const answer = await fetch(`${node.httpUrl}${path}`);
      assert.equal(answer.status, 404, path);
      assert.equal(((await answer.json()) as { error: { code: string } }).error.code, "NOT_FOUND");
    }
    const anonymous = await fetch(`${node.httpUrl}/admin/api/session`);
    assert.equal(anonymous.status, 401);
    const admin = await fetch(`${node.httpUrl}/admin/api/session`, { headers: { authorization: bearer(await signToken(SECRET, { sub: "ops", roles: ["admin"] })) } });
    assert.equal(admin.status, 200);
  });
});
