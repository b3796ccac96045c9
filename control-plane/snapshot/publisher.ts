/**
 * @module The snapshot publisher: every 'enforcement-changed' event schedules a rebuild
 * (debounced: a short trailing quiet time, capped by a maximum wait, so a burst of changes is
 * one snapshot and a steady stream still publishes); the build is checked and stored as the
 * next `snapshots` row only when its content changed; long polls waiting on the old hash are
 * answered at once. Other control-plane nodes sharing the store notice a new row by a cheap
 * poll of the newest `seq`.
 *
 * Hash and `generatedAt`: the snapshot hash covers `generatedAt` (contracts/canonical.ts), so
 * two builds of the same state never share a hash. Whether anything changed is decided on
 * `contentHashOf` (the body without `hash` and `generatedAt`): a rebuild of unchanged state
 * stores nothing, and the served snapshot, hash and `generatedAt` stay those of the build that
 * first published that content.
 */
import type { ControlPlaneDeps } from '../app.js';
import type { PolicyBinding, Snapshot } from '../../contracts/index.js';
import { buildSnapshot, contentHashOf, createSnapshotChecker, loadSnapshotState, SnapshotBuildError } from './builder.js';

/** The snapshot being served. */
export interface PublishedSnapshot {
  seq: number;
  hash: string;
  /** The stored JSON text, served byte for byte. */
  body: string;
  generatedAt: string;
  createdAt: string;
}

/** How publication is doing, for `GET /gateway/nodes` and logs. */
export interface PublicationStatus {
  current: { seq: number; hash: string; generatedAt: string; createdAt: string } | undefined;
  /** Problems of the last build when it was refused (the previous snapshot keeps serving). */
  lastError: { at: string; problems: readonly string[] } | undefined;
}

export interface SnapshotPublisherOptions {
  /** Quiet time after the last change before building. Default 50 ms. */
  debounceMs?: number;
  /** Longest a change waits while further changes keep coming. Default 250 ms. */
  maxWaitMs?: number;
  /** Snapshot rows kept (the newest N). Default 50. */
  keep?: number;
  /**
   * How often to look for a snapshot another control-plane node stored (one indexed query).
   * Default 1000 ms; 0 turns it off (a single control-plane node).
   */
  pollIntervalMs?: number;
  /** Gateway-wide policies put into every snapshot. Default none. */
  gatewayPolicies?: readonly PolicyBinding[];
}

export interface SnapshotPublisher {
  /** Resolves once the stored snapshot is loaded and the first build has run (or failed). */
  readonly ready: Promise<void>;
  current(): PublishedSnapshot | undefined;
  status(): PublicationStatus;
  /**
   * Resolves with the current snapshot as soon as its hash differs from `knownHash` (at once
   * if it already does), or with `undefined` after `timeoutMs`, on `signal` abort or on close.
   */
  waitForChange(knownHash: string, timeoutMs: number, signal?: AbortSignal): Promise<PublishedSnapshot | undefined>;
  /** Builds now (skipping the debounce) and resolves when stored or found unchanged. */
  publishNow(reason?: string): Promise<void>;
  /** Stops listening and polling, and releases every waiting long poll (they answer 304). */
  close(): Promise<void>;
}

type PublisherDeps = Pick<ControlPlaneDeps, 'store' | 'logger' | 'clock' | 'events'>;

interface Waiter {
  knownHash: string;
  resolve(snapshot: PublishedSnapshot | undefined): void;
}

function isUniqueViolation(error: unknown): boolean {
  const e = error as { code?: string; message?: string };
  // PostgreSQL 23505; better-sqlite3 SQLITE_CONSTRAINT_PRIMARYKEY.
  return e.code === '23505' || (typeof e.code === 'string' && e.code.startsWith('SQLITE_CONSTRAINT')) || /UNIQUE constraint failed/.test(e.message ?? '');
}

/**
 * Starts publishing: loads the newest stored snapshot, builds once, then rebuilds on every
 * 'enforcement-changed' event (debounced).
 *
 * @param options.debounceMs default 50
 * @param options.maxWaitMs default 250
 * @param options.keep default 50
 * @param options.pollIntervalMs default 1000 (0: off)
 * @example
 * const publisher = createSnapshotPublisher(cp.deps);
 * await publisher.ready;
 * // on shutdown, before server.close(), so waiting long polls answer instead of holding it open:
 * await publisher.close();
 */
export function createSnapshotPublisher(deps: PublisherDeps, options: SnapshotPublisherOptions = {}): SnapshotPublisher {
  const { store, logger, clock, events } = deps;
  const debounceMs = options.debounceMs ?? 50;
  const maxWaitMs = Math.max(options.maxWaitMs ?? 250, debounceMs);
  const keep = Math.max(options.keep ?? 50, 1);
  const pollIntervalMs = options.pollIntervalMs ?? 1000;
  const check = createSnapshotChecker();
  const waiters = new Set<Waiter>();

  let current: PublishedSnapshot | undefined;
  let currentContentHash: string | undefined;
  let lastError: PublicationStatus['lastError'];
  let closed = false;
  let debounceTimer: NodeJS.Timeout | undefined;
  let pendingSince: number | undefined;
  let pendingReasons: string[] = [];
  /** The build running now, and whether another must follow it. */
  let building: Promise<void> | undefined;
  let again = false;

  function adopt(next: PublishedSnapshot, contentHash: string): void {
    if (current !== undefined && next.seq <= current.seq) return;
    current = next;
    currentContentHash = contentHash;
    for (const waiter of waiters) {
      if (waiter.knownHash !== next.hash) {
        waiters.delete(waiter);
        waiter.resolve(next);
      }
    }
  }

  function rowToPublished(row: { seq: number; hash: string; body: string; created_at: string }): { published: PublishedSnapshot; contentHash: string } {
    const snapshot = JSON.parse(row.body) as Snapshot;
    return {
      published: { seq: Number(row.seq), hash: row.hash, body: row.body, generatedAt: snapshot.generatedAt, createdAt: row.created_at },
      contentHash: contentHashOf(snapshot),
    };
  }

  async function loadNewest(): Promise<void> {
    const row = await store.db.selectFrom('snapshots').selectAll().orderBy('seq', 'desc').limit(1).executeTakeFirst();
    if (row === undefined) return;
    const { published, contentHash } = rowToPublished(row);
    adopt(published, contentHash);
  }

  /** Stores `snapshot` as the next row unless the newest row already has this content. */
  async function storeSnapshot(snapshot: Snapshot, contentHash: string): Promise<void> {
    const body = JSON.stringify(snapshot);
    for (let attempt = 0; ; attempt++) {
      try {
        const outcome = await store.db.transaction().execute(async (trx) => {
          const newest = await trx.selectFrom('snapshots').selectAll().orderBy('seq', 'desc').limit(1).executeTakeFirst();
          if (newest !== undefined) {
            const known = rowToPublished(newest);
            // Another control-plane node published this very content first: serve its row.
            if (known.contentHash === contentHash) return { ...known, stored: false };
          }
          const seq = (newest === undefined ? 0 : Number(newest.seq)) + 1;
          const createdAt = new Date(clock.now()).toISOString();
          await trx.insertInto('snapshots').values({ seq, hash: snapshot.hash, body, created_at: createdAt }).execute();
          await trx.deleteFrom('snapshots').where('seq', '<=', seq - keep).execute();
          return { published: { seq, hash: snapshot.hash, body, generatedAt: snapshot.generatedAt, createdAt }, contentHash, stored: true };
        });
        adopt(outcome.published, outcome.contentHash);
        if (outcome.stored) logger.info('snapshot published', { seq: outcome.published.seq, hash: outcome.published.hash, apis: snapshot.apis.length, consumers: snapshot.consumers.length });
        return;
      } catch (error) {
        // Two control-plane nodes took the same seq: the loser looks again.
        if (attempt < 3 && isUniqueViolation(error)) continue;
        throw error;
      }
    }
  }

  async function buildOnce(reasons: readonly string[]): Promise<void> {
    const started = clock.now();
    try {
      const state = await loadSnapshotState(store.db);
      const snapshot = buildSnapshot(state, { generatedAt: new Date(started).toISOString(), ...(options.gatewayPolicies === undefined ? {} : { gatewayPolicies: options.gatewayPolicies }) });
      check(snapshot);
      const contentHash = contentHashOf(snapshot);
      lastError = undefined;
      if (contentHash === currentContentHash) {
        logger.debug('snapshot rebuilt, content unchanged', { reasons, hash: current?.hash });
        return;
      }
      await storeSnapshot(snapshot, contentHash);
    } catch (error) {
      if (error instanceof SnapshotBuildError) {
        // Loud: nothing enforceable changes until this is fixed; the previous snapshot keeps serving.
        lastError = { at: new Date(clock.now()).toISOString(), problems: error.problems };
        logger.error('snapshot NOT published: the build is invalid; gateways keep the previous snapshot', { reasons, problems: error.problems.slice(0, 50), current: current?.hash });
        return;
      }
      lastError = { at: new Date(clock.now()).toISOString(), problems: [(error as Error).message] };
      logger.error('snapshot build failed; gateways keep the previous snapshot', { reasons, error: (error as Error).message, current: current?.hash });
    }
  }

  /** Runs builds one at a time; a request during a build runs one more afterwards. */
  function runBuild(): Promise<void> {
    if (building !== undefined) {
      again = true;
      return building;
    }
    const reasons = pendingReasons;
    pendingReasons = [];
    building = buildOnce(reasons).finally(() => {
      building = undefined;
      if (again && !closed) {
        again = false;
        void runBuild();
      }
    });
    return building;
  }

  function schedule(reason: string): void {
    if (closed) return;
    pendingReasons.push(reason);
    const now = clock.now();
    pendingSince ??= now;
    clearTimeout(debounceTimer);
    const delay = Math.max(0, Math.min(debounceMs, pendingSince + maxWaitMs - now));
    debounceTimer = setTimeout(() => {
      debounceTimer = undefined;
      pendingSince = undefined;
      void runBuild();
    }, delay);
  }

  const onChange = (reason: string): void => schedule(reason);
  events.on('enforcement-changed', onChange);

  let pollTimer: NodeJS.Timeout | undefined;
  let polling = false;
  if (pollIntervalMs > 0) {
    pollTimer = setInterval(() => {
      if (polling || closed) return;
      polling = true;
      store.db
        .selectFrom('snapshots')
        .select('seq')
        .orderBy('seq', 'desc')
        .limit(1)
        .executeTakeFirst()
        .then((row) => (row !== undefined && (current === undefined || Number(row.seq) > current.seq) ? loadNewest() : undefined))
        .catch((error: unknown) => logger.warn('snapshot poll failed', { error: (error as Error).message }))
        .finally(() => {
          polling = false;
        });
    }, pollIntervalMs);
    pollTimer.unref();
  }

  const ready = loadNewest()
    .catch((error: unknown) => logger.error('stored snapshot could not be loaded', { error: (error as Error).message }))
    .then(() => runBuild());

  return {
    ready,
    current: () => current,
    status: () => ({
      current: current === undefined ? undefined : { seq: current.seq, hash: current.hash, generatedAt: current.generatedAt, createdAt: current.createdAt },
      lastError,
    }),
    waitForChange(knownHash, timeoutMs, signal) {
      if (current !== undefined && current.hash !== knownHash) return Promise.resolve(current);
      if (closed || timeoutMs <= 0 || signal?.aborted === true) return Promise.resolve(undefined);
      return new Promise((resolve) => {
        const finish = (snapshot: PublishedSnapshot | undefined): void => {
          clearTimeout(timer);
          signal?.removeEventListener('abort', onAbort);
          waiters.delete(waiter);
          resolve(snapshot);
        };
        const waiter: Waiter = { knownHash, resolve: finish };
        const onAbort = (): void => finish(undefined);
        const timer = setTimeout(() => finish(undefined), timeoutMs);
        signal?.addEventListener('abort', onAbort, { once: true });
        waiters.add(waiter);
      });
    },
    async publishNow(reason = 'requested') {
      clearTimeout(debounceTimer);
      debounceTimer = undefined;
      pendingSince = undefined;
      pendingReasons.push(reason);
      if (building !== undefined) {
        // A build that started before this call may have read older rows: run one more.
        await building;
      }
      await runBuild();
    },
    async close() {
      if (closed) return;
      closed = true;
      events.off('enforcement-changed', onChange);
      clearTimeout(debounceTimer);
      clearInterval(pollTimer);
      for (const waiter of [...waiters]) waiter.resolve(undefined);
      await building?.catch(() => undefined);
      await ready.catch(() => undefined);
    },
  };
}
