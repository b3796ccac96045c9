/** @module Where snapshots come from (a file now, the control plane later) and where they go. */

export interface ApplyResult {
  applied: boolean;
  hash?: string;
  error?: string;
}

/** Hands snapshot text to the gateway, which compiles and swaps it, or rejects it whole. */
export type SnapshotSink = (text: string, origin: string) => Promise<ApplyResult>;

export interface SnapshotSource {
  describe(): string;
  start(sink: SnapshotSink): void;
  close(): Promise<void>;
}
