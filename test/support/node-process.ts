/**
 * Test helpers around a node process: stock SDK clients, signed tokens, unique ids. Starting the
 * node itself is deploy/node-process.ts.
 */
import { Client } from "@colyseus/sdk";
import { SignJWT } from "jose";
import type { NodeProcess } from "../../deploy/node-process.ts";

export { runNodeToExit, startNode, type NodeProcess } from "../../deploy/node-process.ts";

/** A stock SDK client for a node. */
export function sdkClient(node: Pick<NodeProcess, "httpUrl">, token?: string): Client {
  const client = new Client(node.httpUrl);
  if (token) client.auth.token = token;
  return client;
}

/** Sign an HS256 user token the way an identity service would. */
export function signToken(secret: string, claims: { sub: string; name?: string; roles?: string[] }, expiresIn: string | number = "1h"): Promise<string> {
  return new SignJWT({ name: claims.name ?? claims.sub, ...(claims.roles ? { roles: claims.roles } : {}) })
    .setProtectedHeader({ alg: "HS256" })
    .setSubject(claims.sub)
    .setIssuedAt()
    .setExpirationTime(expiresIn)
    .sign(new TextEncoder().encode(secret));
}

/** A unique suffix for conversation ids, so suites never share a conversation. */
export function unique(prefix = "t"): string {
  return `${prefix}${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}`;
}
