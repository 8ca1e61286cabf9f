/**
 * The wire as the kit sees it: re-exported from the one catalogue in schema/ (docs/protocol.md in
 * code), which has no Node-only imports, so the kit still bundles for browsers.
 */
export {
  CloseCodes,
  Codes,
  isMessage,
  isRefusal,
  Limits,
  type ChatServerMessages,
  type ErrorCode as RefusalCode,
  type Message,
  type MessagePage,
  type Refusal,
  type SendAck,
  type UnreadReply,
} from "../schema/index.ts";

import { Limits } from "../schema/index.ts";

/** The largest `sync` page the server serves. */
export const SYNC_PAGE_LIMIT = Limits.syncMax;
