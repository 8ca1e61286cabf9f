/**
 * Which address a request comes from, for the per-address bounds: the TCP peer, or, behind
 * `trustedProxyHops` proxies that each append to X-Forwarded-For, the entry the outermost trusted
 * proxy appended. Entries further left were written by the client and prove nothing.
 */
import { isIP } from "node:net";

/**
 * The header the node sets on every HTTP request and upgrade to the request's TCP peer, replacing
 * whatever the client sent: Colyseus hands matchmaking handlers the request's headers, not its
 * socket. Only the ws transport sets it (server/connection-guard.ts `stampPeerAddress`).
 */
export const PEER_ADDRESS_HEADER = "x-parley-peer-address";

/**
 * The client address: the peer when `trustedProxyHops` is 0; else the X-Forwarded-For entry that
 * many hops from the right (1 = the last entry), or the peer when the header has fewer entries or
 * that entry is not an IP address. `undefined` when nothing usable is known (a closed socket).
 */
export function clientAddress(peer: string | undefined, forwardedFor: string | readonly string[] | null | undefined, trustedProxyHops: number): string | undefined {
  const fromPeer = peer === undefined ? undefined : normaliseAddress(peer);
  if (trustedProxyHops <= 0 || forwardedFor === undefined || forwardedFor === null) return fromPeer;
  const entries = (typeof forwardedFor === "string" ? forwardedFor : forwardedFor.join(","))
    .split(",")
    .map((entry) => entry.trim())
    .filter((entry) => entry !== "");
  const entry = entries[entries.length - trustedProxyHops];
  return (entry === undefined ? undefined : normaliseAddress(entry)) ?? fromPeer;
}

const IPV4_WITH_PORT = /^(\d{1,3}(?:\.\d{1,3}){3}):\d{1,5}$/;
const BRACKETED_IPV6 = /^\[([^\]]+)\](?::\d{1,5})?$/;
const IPV4_MAPPED = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/;

/**
 * One spelling per address: IPv4-mapped IPv6 (`::ffff:1.2.3.4`) as IPv4, IPv6 in lower case,
 * brackets and ports some proxies add (`[2001:db8::1]:443`, `1.2.3.4:5678`) removed.
 * `undefined` for anything that is not an IP address.
 */
export function normaliseAddress(raw: string): string | undefined {
  let address = raw.trim().toLowerCase();
  address = BRACKETED_IPV6.exec(address)?.[1] ?? IPV4_WITH_PORT.exec(address)?.[1] ?? address;
  address = IPV4_MAPPED.exec(address)?.[1] ?? address;
  return isIP(address) === 0 ? undefined : address;
}
