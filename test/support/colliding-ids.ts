import { clientHash } from "../../rooms/client-hash.ts";

/** Two clientMsgIds of one sender that share a `clientHash` (a birthday search: about 2^15 tries). */
export function collidingIds(senderId: string): [string, string] {
  const seen = new Map<number, string>();
  for (let index = 0; ; index++) {
    const id = `m-${index}`;
    const hash = clientHash(senderId, id);
    const earlier = seen.get(hash);
    if (earlier !== undefined) return [earlier, id];
    seen.set(hash, id);
  }
}
