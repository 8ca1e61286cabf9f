/**
 * docs/protocol.md and schema/ say the same thing: every request, client message, server message,
 * code, close code, matchmaking error and HTTP route of a `catalogue` table in the document is in
 * the code with the same version, and nothing in the code is missing from the document.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { chatClientMessages, chatRequests, chatServerMessages, CloseCodes, Codes, httpRoutes, inboxRequests, inboxServerMessages, MatchmakingErrorCodes } from "../../schema/index.ts";

const DOCUMENT = join(import.meta.dirname, "..", "..", "docs", "protocol.md");

/** The rows of the table that follows `<!-- catalogue: name -->`, as arrays of cell texts. */
function catalogueTable(markdown: string, name: string): string[][] {
  const marker = `<!-- catalogue: ${name} -->`;
  const start = markdown.indexOf(marker);
  assert.ok(start >= 0, `docs/protocol.md has no "${marker}" table`);
  const lines = markdown
    .slice(start + marker.length)
    .split("\n")
    .map((line) => line.trim());
  const table = lines.slice(lines.findIndex((line) => line.startsWith("|")));
  const rows = table.slice(0, table.findIndex((line) => !line.startsWith("|")) >>> 0);
  // Cells split on | that is not escaped (\|), header and separator rows dropped.
  return rows.slice(2).map((row) =>
    row
      .slice(1, -1)
      .split(/(?<!\\)\|/)
      .map((cell) => cell.trim()),
  );
}

const unquote = (cell: string) => cell.replace(/^`|`$/g, "");

/** `{ name: since }` from a table whose first column is a quoted name and second its version. */
function namesWithVersion(markdown: string, table: string): Record<string, string> {
  return Object.fromEntries(catalogueTable(markdown, table).map((cells) => [unquote(cells[0]!), cells[1]!]));
}

const versionsOf = (catalogue: Record<string, { since: string }>) => Object.fromEntries(Object.entries(catalogue).map(([name, spec]) => [name, spec.since]));

function assertSame(inDocument: Record<string, unknown>, inCode: Record<string, unknown>, what: string): void {
  const onlyDocument = Object.keys(inDocument).filter((name) => !(name in inCode));
  const onlyCode = Object.keys(inCode).filter((name) => !(name in inDocument));
  assert.deepEqual({ onlyDocument, onlyCode }, { onlyDocument: [], onlyCode: [] }, `${what}: docs/protocol.md and schema/ disagree`);
  assert.deepEqual(inDocument, inCode, `${what}: same names, different details`);
}

describe("the protocol document and the wire catalogue", function () {
  const markdown = readFileSync(DOCUMENT, "utf8");

  it("list the same chat requests, client messages and server messages, with the same versions", function () {
    assertSame(namesWithVersion(markdown, "chat requests"), versionsOf(chatRequests), "chat requests");
    assertSame(namesWithVersion(markdown, "chat client messages"), versionsOf(chatClientMessages), "chat client messages");
    assertSame(namesWithVersion(markdown, "chat server messages"), versionsOf(chatServerMessages), "chat server messages");
  });

  it("list the same inbox requests and server messages", function () {
    assertSame(namesWithVersion(markdown, "inbox requests"), versionsOf(inboxRequests), "inbox requests");
    assertSame(namesWithVersion(markdown, "inbox server messages"), versionsOf(inboxServerMessages), "inbox server messages");
  });

  it("list the same refusal codes, with the same versions and HTTP statuses", function () {
    const inDocument = Object.fromEntries(catalogueTable(markdown, "codes").map((cells) => [unquote(cells[0]!), { since: cells[1]!, status: Number(cells[2]) }]));
    const inCode = Object.fromEntries(Object.entries(Codes).map(([code, spec]) => [code, { since: spec.since, status: spec.status }]));
    assertSame(inDocument, inCode, "codes");
  });

  it("list the same close codes and matchmaking errors", function () {
    const closes = catalogueTable(markdown, "close codes").filter((cells) => /^\d+$/.test(cells[0]!));
    assertSame(
      Object.fromEntries(closes.map((cells) => [cells[0]!, { name: unquote(cells[1]!), since: cells[2]! }])),
      Object.fromEntries(Object.entries(CloseCodes).map(([name, spec]) => [String(spec.code), { name, since: spec.since }])),
      "close codes",
    );
    assertSame(
      Object.fromEntries(catalogueTable(markdown, "matchmaking errors").map((cells) => [cells[0]!, unquote(cells[1]!)])),
      Object.fromEntries(Object.entries(MatchmakingErrorCodes).map(([name, spec]) => [String(spec.code), name])),
      "matchmaking errors",
    );
  });

  it("list the same HTTP routes, with the same versions", function () {
    assertSame(namesWithVersion(markdown, "http"), Object.fromEntries(httpRoutes.map((route) => [`${route.method} ${route.path}`, route.since])), "HTTP routes");
  });

  it("is the contract every document links to: nothing points outside the repository", function () {
    for (const file of ["README.md", "client/README.md", "docs/architecture.md", "loadtest/README.md", "deploy/README.md"]) {
      const text = readFileSync(join(import.meta.dirname, "..", "..", file), "utf8");
      assert.ok(!text.includes("../shared/"), `${file} links ../shared/, which a clone does not have`);
    }
  });
});
