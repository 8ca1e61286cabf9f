/**
 * Keeps malformed frames from costing a client its connection. Stock Colyseus 0.18 closes a
 * connection whose fire-and-forget frame fails to decode, and answers a malformed request with a
 * fault instead of a refusal. The guard decodes the header and payload of those frames first and
 * answers bad ones with a typed error (`INVALID`), leaving the connection open.
 */
import { Protocol, ResponseStatus, getMessageBytes, type Client, type Room } from "@colyseus/core";
import { decode } from "@colyseus/schema";
import { unpack } from "msgpackr";
import { refusal, type Refusal } from "../../schema/codes.ts";

const PROTOCOL_CODE_MASK = 0x1f;

/** What the guard found wrong with a frame, or undefined when the room may handle it. */
type Verdict = undefined | { requestId?: number; refusal: Refusal };

/** Inspect one client frame. `requestTypes` are the request types the room answers. */
export function inspectFrame(buffer: Uint8Array, requestTypes: ReadonlySet<string>): Verdict {
  const code = (buffer[0] ?? 0) & PROTOCOL_CODE_MASK;
  if (code !== Protocol.ROOM_DATA && code !== Protocol.ROOM_REQUEST) return undefined;
  const it = { offset: 1 };
  let requestId: number | undefined;
  try {
    if (code === Protocol.ROOM_REQUEST) requestId = decode.number(buffer as Buffer, it);
    const type = decode.stringCheck(buffer as Buffer, it) ? decode.string(buffer as Buffer, it) : decode.number(buffer as Buffer, it);
    if (it.offset > buffer.byteLength || (requestId !== undefined && !Number.isSafeInteger(requestId))) throw new Error("truncated");
    if (code === Protocol.ROOM_REQUEST && !requestTypes.has(String(type))) {
      return { requestId, refusal: refusal("INVALID", `unknown request type "${String(type).slice(0, 64)}"`) };
    }
    if (buffer.byteLength > it.offset) unpack(buffer.subarray(it.offset));
    return undefined;
  } catch {
    return { requestId: Number.isSafeInteger(requestId) ? requestId : undefined, refusal: refusal("INVALID", "malformed frame") };
  }
}

/** Answer a bad frame: a rejected reply for a request, an `error` message otherwise. */
export function answerBadFrame(client: Client, verdict: NonNullable<Verdict>): void {
  if (verdict.requestId !== undefined) {
    client.enqueueRaw(getMessageBytes[Protocol.ROOM_RESPONSE](verdict.requestId, ResponseStatus.REJECTED, verdict.refusal));
  } else {
    client.send("error", { code: verdict.refusal.code, message: verdict.refusal.message });
  }
}

/**
 * Install the guard on a room class: every frame passes `inspectFrame` before Colyseus decodes it.
 * `onBadFrame` is told of each refused frame (for a log line and a metric).
 */
export function guardFrames(roomClass: typeof Room<any>, requestTypes: ReadonlySet<string>, onBadFrame: (verdict: NonNullable<Verdict>) => void): void {
  // Colyseus binds `this._onMessage` per client at join, so wrapping it on the subclass prototype
  // applies to that room type only.
  const proto = roomClass.prototype as unknown as { _onMessage: (client: Client, buffer: Buffer) => void };
  const original = proto._onMessage;
  proto._onMessage = function (this: Room, client: Client, buffer: Buffer) {
    if (buffer) {
      const verdict = inspectFrame(buffer, requestTypes);
      if (verdict !== undefined) {
        onBadFrame(verdict);
        answerBadFrame(client, verdict);
        return;
      }
    }
    original.call(this, client, buffer);
  };
}
