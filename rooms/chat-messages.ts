/**
 * The wire catalogue of room `chat` (protocol v1): every client request with its zod schema, and
 * every server message with its payload type. Schemas are checked inside the handlers, not with
 * Colyseus `validate()`, because a failed `validate()` answers a request with a fault, not with a
 * refusal carrying our `{ code, message }`.
 */
import { z } from "zod";
import type { Message } from "./history-store.ts";

const clientMsgId = z.string().regex(/^[A-Za-z0-9_\-.:]{1,64}$/, "clientMsgId must be 1..64 of A-Za-z0-9_-.:");
const seq = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);

/** Client requests, by type. `text` is checked for length after NFC and trim, in the room. */
export const chatRequests = {
  // No length cap here: the room refuses long texts as TOO_LONG, and the transport bounds frames.
  send: z.object({ clientMsgId, text: z.string() }),
  history: z.object({ beforeSeq: seq.min(1).optional(), limit: z.number().int().min(1).max(100).optional() }),
  sync: z.object({ afterSeq: seq, limit: z.number().int().min(1).max(500).optional() }),
  read: z.object({ seq }),
} as const;

export type ChatRequestType = keyof typeof chatRequests;
export type ChatRequest<T extends ChatRequestType> = z.infer<(typeof chatRequests)[T]>;

/** Reply to `send`. */
export type SendReply = { seq: number; sentAt: string; duplicate: boolean };

/** Server-to-client messages, by type. `error` is a v1 extension for bad fire-and-forget input. */
export type ChatServerMessages = {
  message: Message;
  typing: { userId: string; name: string };
  read: { userId: string; seq: number };
  migrate: { reason: string };
  error: { code: string; message: string };
};

/** Parse a payload for a request type; on failure return the first problem as text. */
export function parseRequest<T extends ChatRequestType>(type: T, payload: unknown): { ok: true; value: ChatRequest<T> } | { ok: false; message: string } {
  const result = chatRequests[type].safeParse(payload ?? {});
  if (result.success) return { ok: true, value: result.data as ChatRequest<T> };
  const issue = result.error.issues[0];
  const where = issue?.path.length ? `${issue.path.join(".")}: ` : "";
  return { ok: false, message: `${type}: ${where}${issue?.message ?? "invalid payload"}` };
}

/** NFC, unpaired bidi controls removed, trim; the length in code points is what the limit counts. */
export { cleanText as normaliseText } from "./text.ts";
