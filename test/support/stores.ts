/**
 * @module The control-plane store under test on both engines: SQLite (a temporary file) and
 * PostgreSQL (`TEST_DATABASE_URL`, default `postgres://postgres@127.0.0.1:5432/test`, each
 * store in its own schema, dropped afterwards). When PostgreSQL is missing the test says so
 * loudly and skips; under `CI=true` it fails instead.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { TestContext } from 'node:test';
import pg from 'pg';
import { openStore, type Store } from '../../control-plane/store/db.js';
import type { Logger } from '../../control-plane/errors.js';

export const TEST_DATABASE_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
export const ENGINES = ['sqlite', 'postgres'] as const;
export type Engine = (typeof ENGINES)[number];

const quiet: Logger = { error() {}, warn() {}, info() {}, debug() {} };

export interface TestStore extends Store {
  engine: Engine;
  /** Drops the schema / deletes the file. */
  dispose(): Promise<void>;
}

/** Why PostgreSQL at `databaseUrl` cannot be used, or undefined when it answers. */
export async function postgresReachable(databaseUrl: string = TEST_DATABASE_URL): Promise<string | undefined> {
  const client = new pg.Client({ connectionString: databaseUrl, connectionTimeoutMillis: 2000 });
  try {
    await client.connect();
    await client.query('select 1');
    return undefined;
  } catch (error) {
    return (error as Error).message;
  } finally {
    await client.end().catch(() => undefined);
  }
}

/**
 * A fresh, migrated store on `engine`, or undefined after a loud skip (never under CI).
 *
 * @example
 * for (const engine of ENGINES) it(`works on ${engine}`, async (t) => {
 *   const store = await openTestStore(t, engine);
 *   if (store === undefined) return;
 *   t.after(() => store.dispose());
 * });
 */
export async function openTestStore(t: TestContext, engine: Engine, logger: Logger = quiet): Promise<TestStore | undefined> {
  if (engine === 'postgres') {
    const problem = await postgresReachable();
    if (problem !== undefined) {
      const message = `PostgreSQL is not reachable at ${TEST_DATABASE_URL.replace(/\/\/[^@]*@/, '//…@')} (${problem}); start it to run the PostgreSQL store tests`;
      if (process.env.CI === 'true') throw new Error(`${message}. CI=true: the PostgreSQL run is required.`);
      process.stderr.write(`\n*** SKIPPED: ${message} ***\n\n`);
      t.skip(message);
      return undefined;
    }
  }
  return openFreshStore(engine, { logger });
}

export interface FreshStore extends TestStore {
  /** The SQLite file, or the PostgreSQL schema the store lives in. */
  location: string;
}

/**
 * A fresh, migrated store on `engine` (a file in a new temporary folder, or a new schema at
 * `databaseUrl`), removed again by `dispose`. Checks nothing first: see `openTestStore`.
 *
 * @example
 * const store = await openFreshStore('postgres', { databaseUrl });
 */
export async function openFreshStore(engine: Engine, options: { databaseUrl?: string; logger?: Logger } = {}): Promise<FreshStore> {
  const logger = options.logger ?? quiet;
  if (engine === 'sqlite') {
    const dir = mkdtempSync(join(tmpdir(), 'gatehouse-store-'));
    const file = join(dir, 'test.db');
    const store = await openStore({ sqliteFile: file, logger });
    return {
      ...store,
      engine,
      location: file,
      async dispose() {
        await store.close();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  }
  const databaseUrl = options.databaseUrl ?? TEST_DATABASE_URL;
  const schema = `gh_test_${randomBytes(6).toString('hex')}`;
  const store = await openStore({ databaseUrl, postgresSchema: schema, logger });
  return {
    ...store,
    engine,
    location: schema,
    async dispose() {
      await store.close();
      const client = new pg.Client({ connectionString: databaseUrl });
      await client.connect();
      try {
        await client.query(`drop schema if exists ${schema} cascade`);
      } finally {
        await client.end();
      }
    },
  };
}
