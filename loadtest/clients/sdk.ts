/**
 * Load members on the bare stock @colyseus/sdk 0.18, as a game with no client kit would talk to
 * Parley: one request per operation, no resend, no rejoin. Every refusal is final and shows.
 */
import "./prefer-ws.ts";
import { Client, type Room } from "@colyseus/sdk";
import { chatServerMessages, codeOfJoinError, inboxServerMessages, isMessage, isRefusal } from "../../schema/index.ts";
import type { Seat } from "../identities.ts";
import { MIX_PAGES, type LoadMember, type Operation, type Reports } from "../scenarios.ts";

export type SdkMemberOptions = {
  endpoints: readonly string[];
  /** A request (a send included) unanswered this long fails with ACK_TIMEOUT. */
  requestTimeoutMs: number;
  /** A join that takes longer fails with TIMEOUT. */
  joinTimeoutMs: number;
  reports: Reports;
};

/** The code of a failed request: the server's refusal code, or a local name for what happened. */
function requestErrorCode(error: unknown): { code: string; refused: boolean } {
  const reason = (error as { reason?: unknown } | undefined)?.reason;
  if (isRefusal(reason)) return { code: reason.code, refused: true };
  const message = error instanceof Error ? error.message : String(error);
  if (/timed out/i.test(message)) return { code: "ACK_TIMEOUT", refused: false };
  if (/not open|closed/i.test(message)) return { code: "NOT_OPEN", refused: false };
  return { code: "REQUEST_FAILED", refused: false };
}

/** The code of a failed join: the protocol code its message starts with, TIMEOUT, or CONNECT_FAILED. */
export function joinErrorCode(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return codeOfJoinError(message) ?? (/timed out/i.test(message) ? "TIMEOUT" : "CONNECT_FAILED");
}

/** Join `roomName` within `timeoutMs`; a join that lands later (or after `signal`) is left at once. */
async function joinWithin(client: Client, roomName: string, options: Record<string, unknown>, timeoutMs: number, signal: AbortSignal): Promise<Room> {
  const joining = client.joinOrCreate(roomName, options);
  const cutoff = AbortSignal.any([signal, AbortSignal.timeout(timeoutMs)]);
  const cut = new Promise<never>((_, reject) => {
    cutoff.addEventListener("abort", () => reject(new Error(signal.aborted ? "join timed out: the seating deadline passed" : `join timed out after ${timeoutMs} ms`)), { once: true });
  });
  try {
    return await Promise.race([joining, cut]);
  } catch (error) {
    void joining.then((room) => room.leave(true)).catch(() => undefined);
    throw error;
  }
}

/** Join one seat through the bare SDK (and its inbox when the seat asks for it). */
export async function joinSdkMember(seat: Seat, options: SdkMemberOptions, signal: AbortSignal): Promise<LoadMember> {
  const { reports } = options;
  const client = new Client(options.endpoints[seat.index % options.endpoints.length]!);
  if (seat.token) client.auth.token = seat.token;
  const join = async (roomName: string, joinOptions: Record<string, unknown>) => {
    try {
      return await joinWithin(client, roomName, { ...joinOptions, ...seat.identity }, options.joinTimeoutMs, signal);
    } catch (error) {
      reports.joinAttemptFailed(joinErrorCode(error));
      throw error;
    }
  };
  let closing = false;
  let lastSeq = 0;
  const room = await join("chat", { conversationId: seat.conversationId });
  // Register every server message type, as the protocol asks; deliveries and error messages are counted.
  for (const type of Object.keys(chatServerMessages)) if (type !== "message" && type !== "error") room.onMessage(type, () => undefined);
  room.onMessage("message", (message: unknown) => {
    if (!isMessage(message)) return;
    lastSeq = Math.max(lastSeq, message.seq);
    reports.delivery(message.clientMsgId, message.text);
  });
  room.onMessage("error", (error: { code?: string }) => reports.connection(`ERROR_MESSAGE_${error.code ?? "UNKNOWN"}`));
  room.onLeave((code) => closing || reports.connection(`LEFT_${code}`));
  const inbox = seat.withInbox
    ? await join("inbox", {}).catch(async (error: unknown) => {
        await room.leave(true).catch(() => undefined);
        throw error;
      })
    : undefined;
  if (inbox) for (const type of Object.keys(inboxServerMessages)) inbox.onMessage(type, () => undefined);

  const request = (operation: Operation, target: Room | undefined, type: string, payload: unknown, clientMsgId?: string) => {
    if (!target) return reports.failed(operation, "NOT_OPEN", clientMsgId);
    const started = performance.now();
    reports.attempt(operation);
    target.request(type, payload, { timeout: options.requestTimeoutMs }).then(
      () => reports.answered(operation, performance.now() - started, clientMsgId),
      (error: unknown) => {
        const { code, refused } = requestErrorCode(error);
        if (refused) reports.refusal(operation, code);
        reports.failed(operation, code, clientMsgId);
      },
    );
  };
  return {
    conversation: seat.conversation,
    hasInbox: inbox !== undefined,
    send: (clientMsgId, text) => request("send", room, "send", { clientMsgId, text }, clientMsgId),
    history: () => request("history", room, "history", { limit: MIX_PAGES.historyLimit }),
    sync: () => request("sync", room, "sync", { afterSeq: Math.max(0, lastSeq - MIX_PAGES.syncBehind), limit: MIX_PAGES.syncLimit }),
    typing() {
      reports.attempt("typing");
      room.send("typing");
    },
    unread: () => request("unread", inbox, "unread", {}),
    async close() {
      closing = true;
      await Promise.all([room.leave(true), inbox?.leave(true)].map((leaving) => leaving?.catch(() => undefined)));
    },
  };
}
