/**
 * A number for one sender's clientMsgId, for maps that must not hold a string per message: the
 * in-memory store's index and a conversation log's recent replies. Two pairs can share a number, so
 * every user of it checks the message it finds.
 */

/**
 * FNV-1a of sender, a separator and clientMsgId, cut to 30 bits so that it is a small integer to V8
 * (a larger number would be one more heap object per key): a key that holds no string.
 */
export function clientHash(senderId: string, clientMsgId: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < senderId.length; i++) hash = Math.imul(hash ^ senderId.charCodeAt(i), 0x01000193);
  hash = Math.imul(hash ^ 0xffff, 0x01000193);
  for (let i = 0; i < clientMsgId.length; i++) hash = Math.imul(hash ^ clientMsgId.charCodeAt(i), 0x01000193);
  return hash & 0x3fffffff;
}
