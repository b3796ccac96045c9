/**
 * @module Snapshot source for DB-less / GitOps runs (`GATEWAY_SNAPSHOT_FILE`): reads the file at
 * start and again whenever it changes. The directory is watched (editors and `mv` replace the
 * file, which a watch on the file itself would miss), with a short debounce.
 */
import { watch, type FSWatcher } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { basename, dirname, resolve } from 'node:path';
import type { Logger } from '../../policies/index.js';
import type { SnapshotSink, SnapshotSource } from './source.js';

export interface FileSnapshotSourceOptions {
  path: string;
  logger: Logger;
  /** Quiet time after the last change before reading, ms (default 50). */
  debounceMs?: number;
}

/**
 * @example
 * const source = createFileSnapshotSource({ path: './snapshot.json', logger });
 * const gateway = createGateway({ snapshotSource: source, ... });
 */
export function createFileSnapshotSource(options: FileSnapshotSourceOptions): SnapshotSource {
  const path = resolve(options.path);
  const debounceMs = options.debounceMs ?? 50;
  let watcher: FSWatcher | undefined;
  let timer: NodeJS.Timeout | undefined;
  let lastText: string | undefined;
  let closed = false;

  async function load(sink: SnapshotSink): Promise<void> {
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (error) {
      options.logger.warn('snapshot file unreadable; keeping the current snapshot', { path, error: (error as Error).message });
      return;
    }
    if (closed || text === lastText) return;
    lastText = text;
    await sink(text, `file:${path}`);
  }

  return {
    describe: () => `file ${path}`,
    start(sink) {
      void load(sink);
      watcher = watch(dirname(path), (_event, name) => {
        if (name !== null && name !== basename(path)) return;
        clearTimeout(timer);
        timer = setTimeout(() => void load(sink), debounceMs);
      });
      watcher.on('error', (error) => options.logger.error('snapshot file watch failed', { path, error: error.message }));
    },
    async close() {
      closed = true;
      clearTimeout(timer);
      watcher?.close();
    },
  };
}
