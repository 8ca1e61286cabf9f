/**
 * Messages between bench-cluster.ts and its filler children (cluster-filler.ts), one union each way.
 */

/** Parent to filler. */
export type FillerRequest =
  | {
      kind: "fill";
      /** Conversation indexes [from, to): `channel:bg<i>`, user `bg<i>`, created through nodeUrls[i % n]. */
      from: number;
      to: number;
      nodeUrls: string[];
      /** Creations in flight at once in this filler. */
      concurrency: number;
    }
  | { kind: "leave" };

/** Filler to parent. */
export type FillerReply = { kind: "ready" } | { kind: "filled"; roomIds: Array<[number, string]>; errors: number; firstError?: string; ms: number } | { kind: "left" };
