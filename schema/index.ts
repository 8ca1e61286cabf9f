/**
 * The wire of Parley in code: what docs/protocol.md says, imported by rooms/, server/ and client/
 * alike. No Node-only imports, so the client kit bundles for browsers.
 * test/contract/catalogue.test.ts holds this catalogue and the document together.
 */
export * from "./codes.ts";
export * from "./close-codes.ts";
export * from "./chat.ts";
export * from "./inbox.ts";
export * from "./http.ts";
export * from "./moderation.ts";
