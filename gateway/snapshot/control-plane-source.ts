/**
 * @module Snapshot source fed by the control plane (DESIGN §4): long-polls
 * `GET {controlPlaneUrl}/api/v1/gateway/snapshot?wait=30` with `If-None-Match: "<hash>"`,
 * hands each new snapshot to the gateway, reports `{ appliedHash, error? }` to
 * `PUT /api/v1/gateway/nodes/{nodeId}` after every apply attempt (and as a heartbeat), and keeps
 * the last snapshot that applied in a cache file (written atomically) so a node restarted while
 * the control plane is down starts serving from it. Access tokens come from the
 * client-credentials grant (control-plane-token.ts), renewed before they expire, minted here or
 * by a token source the node shares with its access-record shipper. An unreachable control
 * plane or identity provider is retried with exponential backoff and jitter; the snapshot
 * applied last keeps serving meanwhile.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { equalJitterBackoff } from '../../contracts/index.js';
import type { Logger } from '../../policies/index.js';
import { createControlPlaneTokenSource, describeControlPlaneFailure, type ControlPlaneCredentials, type ControlPlaneTokenSource } from './control-plane-token.js';
import type { SnapshotSink, SnapshotSource } from './source.js';

export interface ControlPlaneSnapshotSourceSettings {
  /** Base URL of the control plane, e.g. `http://control-plane:4000` (`/api/v1/...` is appended). */
  controlPlaneUrl: string;
  /** This node's id in reports (`GET /api/v1/gateway/nodes`), e.g. the host name. */
  nodeId: string;
  /** Where the last good snapshot is kept; absent: no cache (a restart needs the control plane). */
  cacheFile?: string;
  logger: Logger;
  /** Long-poll wait, seconds (the control plane caps it at 60). Default 30. */
  waitSeconds?: number;
  /** First retry delay after a failure. Default 250 ms. */
  backoffBaseMs?: number;
  /** Longest retry delay. Default 15000 ms. */
  backoffMaxMs?: number;
  /** A report is sent at least this often while the control plane answers. Default 30000 ms. */
  heartbeatMs?: number;
  fetch?: typeof fetch;
  /** Jitter source in [0, 1). Default `Math.random`. */
  random?: () => number;
  now?: () => number;
}

/**
 * The source's settings plus where its access tokens come from: the node's client credentials (a
 * token source of its own), or `tokens`, one token source shared with the node's other callers of
 * the control plane (the access-record shipper).
 */
export type ControlPlaneSnapshotSourceOptions = ControlPlaneSnapshotSourceSettings & (ControlPlaneCredentials | { tokens: ControlPlaneTokenSource });

/** Reports longer than this are cut (the control plane accepts 2000 characters). */
const MAX_ERROR_CHARS = 2000;

/** A failure talking to the control plane or the identity provider, safe to log. */
class SourceError extends Error {
  override readonly name = 'SourceError';
}

/** What a failed exchange says, without anything the peer sent beyond a problem code. */
function describeFailure(error: unknown): string {
  if (error instanceof SourceError) return error.message;
  return describeControlPlaneFailure(error);
}

/** Writes `text` to `path` atomically: a temporary file beside it, then a rename. */
async function writeAtomically(path: string, text: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const temporary = `${path}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
  try {
    await writeFile(temporary, text, { encoding: 'utf8', mode: 0o600 });
    await rename(temporary, path);
  } catch (error) {
    await rm(temporary, { force: true });
    throw error;
  }
}

/**
 * @param options.waitSeconds default 30
 * @param options.backoffBaseMs default 250; options.backoffMaxMs default 15000
 * @param options.heartbeatMs default 30000
 * @param options.tokenEndpointAuthMethod default `client_secret_basic`
 * @param options.tokens a shared token source instead of the credentials (see createControlPlaneTokenSource)
 * @example
 * const source = createControlPlaneSnapshotSource({
 *   controlPlaneUrl: 'http://control-plane:4000', nodeId: 'gw-1',
 *   issuer: 'https://idp.example/realms/gatehouse', clientId: 'gatehouse-gateway',
 *   clientSecret: process.env.GATEWAY_CLIENT_SECRET!, cacheFile: '/var/lib/gatehouse/snapshot.json', logger,
 * });
 * const gateway = createGateway({ snapshotSource: source, logger, accessLog, resolveSecret });
 */
export function createControlPlaneSnapshotSource(options: ControlPlaneSnapshotSourceOptions): SnapshotSource {
  const { logger, nodeId } = options;
  const base = options.controlPlaneUrl.replace(/\/+$/, '');
  const snapshotUrl = `${base}/api/v1/gateway/snapshot`;
  const reportUrl = `${base}/api/v1/gateway/nodes/${encodeURIComponent(nodeId)}`;
  const cacheFile = options.cacheFile === undefined || options.cacheFile === '' ? undefined : resolve(options.cacheFile);
  const waitSeconds = Math.min(Math.max(options.waitSeconds ?? 30, 0), 60);
  const backoffBaseMs = options.backoffBaseMs ?? 250;
  const backoffMaxMs = Math.max(options.backoffMaxMs ?? 15_000, backoffBaseMs);
  const heartbeatMs = options.heartbeatMs ?? 30_000;
  const fetchFn = options.fetch ?? fetch;
  const random = options.random ?? Math.random;
  const now = options.now ?? Date.now;
  const tokens = 'tokens' in options ? options.tokens : createControlPlaneTokenSource({ ...options, fetch: fetchFn, now });
  const closing = new AbortController();

  /** The hash the last answer carried (applied or not): the next long poll waits for another. */
  let knownHash: string | undefined;
  /** The hash this node serves. */
  let appliedHash: string | undefined;
  /** Why the last snapshot offered did not apply; cleared by the next that does. */
  let lastError: string | undefined;
  let lastReportAt = Number.NEGATIVE_INFINITY;
  let reportDue = true;
  let reports: Promise<void> = Promise.resolve();
  let loop: Promise<void> | undefined;

  /** Waits `ms`, or less when closing starts (then it resolves at once). */
  function sleep(ms: number): Promise<void> {
    return delay(ms, undefined, { signal: closing.signal }).catch(() => undefined);
  }

  /**
   * A signal for one exchange: aborted on close or after `timeoutMs`. Call `done()` once the
   * answer is read, so no listener outlives the exchange.
   */
  function exchangeSignal(timeoutMs: number): { signal: AbortSignal; done(): void } {
    const controller = new AbortController();
    const onClose = (): void => controller.abort(new SourceError('closed'));
    closing.signal.addEventListener('abort', onClose, { once: true });
    const timer = setTimeout(() => controller.abort(new SourceError(`no answer within ${timeoutMs} ms`)), timeoutMs);
    return {
      signal: controller.signal,
      done() {
        clearTimeout(timer);
        closing.signal.removeEventListener('abort', onClose);
      },
    };
  }

  async function sendReport(): Promise<void> {
    const body = JSON.stringify({ appliedHash: appliedHash ?? null, ...(lastError === undefined ? {} : { error: lastError.slice(0, MAX_ERROR_CHARS) }) });
    const exchange = exchangeSignal(10_000);
    try {
      const token = await tokens.get(closing.signal);
      const res = await fetchFn(reportUrl, {
        method: 'PUT',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body,
        signal: exchange.signal,
      });
      await res.body?.cancel();
      if (res.status === 401) tokens.invalidate();
      if (res.status !== 200) throw new SourceError(`the control plane answered ${res.status} to the node report`);
      lastReportAt = now();
    } catch (error) {
      reportDue = true;
      if (!closing.signal.aborted) logger.warn('node report not delivered; retried later', { nodeId, error: describeFailure(error) });
    } finally {
      exchange.done();
    }
  }

  /** Queues a report (one at a time, never blocking the long poll). */
  function report(): void {
    reportDue = false;
    reports = reports.then(sendReport);
  }

  async function persist(text: string, hash: string): Promise<void> {
    if (cacheFile === undefined) return;
    try {
      await writeAtomically(cacheFile, text);
      logger.debug('last good snapshot cached', { file: cacheFile, hash });
    } catch (error) {
      logger.error('the last good snapshot could not be cached; a restart while the control plane is down would start empty', { file: cacheFile, error: (error as Error).message });
    }
  }

  async function startFromCache(sink: SnapshotSink): Promise<void> {
    if (cacheFile === undefined) return;
    let text: string;
    try {
      text = await readFile(cacheFile, 'utf8');
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') logger.info('no cached snapshot yet; waiting for the control plane', { file: cacheFile });
      else logger.warn('cached snapshot unreadable; waiting for the control plane', { file: cacheFile, error: (error as Error).message });
      return;
    }
    if (closing.signal.aborted) return;
    const result = await sink(text, `cache:${cacheFile}`);
    if (result.applied && result.hash !== undefined) {
      appliedHash = result.hash;
      knownHash = result.hash;
      logger.info('serving the cached snapshot until the control plane answers', { file: cacheFile, hash: result.hash });
    } else {
      logger.warn('cached snapshot refused; waiting for the control plane', { file: cacheFile, error: result.error });
    }
  }

  /** One exchange: a snapshot (applied, reported, cached) or a 304 (heartbeat when due). */
  async function pollOnce(sink: SnapshotSink): Promise<void> {
    const token = await tokens.get(closing.signal);
    const wait = knownHash === undefined ? 0 : waitSeconds;
    // The wait plus headroom: a control plane that stops answering mid-poll is retried.
    const exchange = exchangeSignal((wait + 15) * 1000);
    let res: Response;
    let text: string;
    try {
      res = await fetchFn(wait > 0 ? `${snapshotUrl}?wait=${wait}` : snapshotUrl, {
        headers: {
          authorization: `Bearer ${token}`,
          accept: 'application/json',
          ...(knownHash === undefined ? {} : { 'if-none-match': `"${knownHash}"` }),
        },
        signal: exchange.signal,
      });
      text = await res.text();
    } finally {
      exchange.done();
    }
    if (res.status === 304) {
      if (reportDue || now() - lastReportAt >= heartbeatMs) report();
      return;
    }
    if (res.status !== 200) {
      if (res.status === 401) tokens.invalidate();
      let code = '';
      try {
        code = String((JSON.parse(text) as { code?: unknown }).code ?? '');
      } catch {
        // not a problem document
      }
      throw new SourceError(`the control plane answered ${res.status}${code === '' ? '' : ` ${code}`} to the snapshot request`);
    }
    const etag = /^(?:W\/)?"([0-9a-f]{64})"$/.exec(res.headers.get('etag') ?? '')?.[1];
    const result = await sink(text, `control-plane:${base}`);
    if (result.applied && result.hash !== undefined) {
      appliedHash = result.hash;
      knownHash = result.hash;
      lastError = undefined;
      report();
      await persist(text, result.hash);
    } else {
      // Refused whole; the node keeps what it runs and waits for a newer snapshot.
      knownHash = etag ?? knownHash;
      lastError = `snapshot ${etag ?? '(no ETag)'} refused: ${result.error ?? 'unknown reason'}`;
      report();
    }
  }

  async function run(sink: SnapshotSink): Promise<void> {
    await startFromCache(sink).catch((error: unknown) => logger.error('starting from the cached snapshot failed', { error: (error as Error).message }));
    let failures = 0;
    while (!closing.signal.aborted) {
      try {
        await pollOnce(sink);
        if (failures > 0) logger.info('control plane reachable again', { url: base, failures });
        failures = 0;
      } catch (error) {
        if (closing.signal.aborted) break;
        failures++;
        const delayMs = equalJitterBackoff(failures, backoffBaseMs, backoffMaxMs, random);
        // One warning per outage, the retries at debug: a long outage does not flood the log.
        const meta = { url: base, nodeId, failures, retryInMs: delayMs, serving: appliedHash ?? null, error: describeFailure(error) };
        if (failures === 1) logger.warn('control plane unreachable; retrying with backoff (the applied snapshot, if any, keeps serving)', meta);
        else logger.debug('control plane still unreachable', meta);
        await sleep(delayMs);
      }
    }
  }

  return {
    describe: () => `control plane ${base} as node ${nodeId}${cacheFile === undefined ? '' : ` (cache ${cacheFile})`}`,
    start(sink) {
      if (loop !== undefined) throw new Error('control-plane snapshot source already started');
      loop = run(sink);
    },
    async close() {
      closing.abort();
      await loop;
      await reports;
    },
  };
}
