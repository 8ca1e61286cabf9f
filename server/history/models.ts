/**
 * The mongoose models of durable history. See docs/architecture.md, "Data stores".
 */
import { Schema, type Connection } from "mongoose";

/** One document per message; the two unique indexes fence seq and clientMsgId. */
export const messageSchema = new Schema(
  {
    conversationId: { type: String, required: true },
    seq: { type: Number, required: true },
    senderId: { type: String, required: true },
    senderName: { type: String, required: true },
    text: { type: String, required: true },
    sentAt: { type: Date, required: true },
    clientMsgId: { type: String, required: true },
  },
  { collection: "messages", versionKey: false, autoIndex: false },
);
// Serves history and sync (range on seq within a conversation) and fences seq.
messageSchema.index({ conversationId: 1, seq: 1 }, { unique: true, name: "conversation_seq" });
// Idempotency, forever: one clientMsgId per sender and conversation.
messageSchema.index({ conversationId: 1, senderId: 1, clientMsgId: 1 }, { unique: true, name: "conversation_sender_clientMsgId" });

/**
 * One document per conversation with state beyond its id: kind and members (group membership, #4).
 * The last seq is not kept here: it is the newest message, served by the conversation_seq index.
 * Keeping a copy up to date on every write deadlocked FerretDB's SQLite backend against the
 * inserts acknowledgements wait on (see docs/architecture.md, "Data stores").
 */
export const conversationSchema = new Schema(
  {
    _id: { type: String, required: true },
    kind: { type: String, required: true, enum: ["channel", "group", "dm"] },
    members: { type: [String], default: undefined },
    /** The history epoch; absent means "1". A restore to an earlier point sets a new one. */
    epoch: { type: String },
  },
  { collection: "conversations", versionKey: false, autoIndex: false },
);
// The inbox's `unread` lists a user's dm and group conversations.
conversationSchema.index({ members: 1, _id: 1 }, { name: "members" });

/** How far a user has read in a conversation: the highest seq among their documents there. */
export const readCursorSchema = new Schema(
  {
    conversationId: { type: String, required: true },
    userId: { type: String, required: true },
    seq: { type: Number, required: true },
  },
  { collection: "read_cursors", versionKey: false, autoIndex: false },
);
// One document per position a user reached: a cursor only ever gains documents, so it never moves
// backwards even on a server that applies updates as read-then-write (FerretDB). The highest seq is
// the cursor; lower ones are pruned.
readCursorSchema.index({ conversationId: 1, userId: 1, seq: 1 }, { unique: true, name: "conversation_user_seq" });
readCursorSchema.index({ userId: 1 }, { name: "user" });

/** Register the models on a connection. */
export function historyModels(connection: Connection) {
  return {
    Message: connection.model("Message", messageSchema),
    Conversation: connection.model("Conversation", conversationSchema),
    ReadCursor: connection.model("ReadCursor", readCursorSchema),
  };
}
