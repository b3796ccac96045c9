/**
 * @module Opens the control-plane store: SQLite (better-sqlite3) in a file under `./data/` by
 * default, PostgreSQL (`pg`) when a `postgres://` URL is given. One Kysely code path serves
 * both; migrations run before the store is handed out.
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import SQLite from 'better-sqlite3';
import { Kysely, Migrator, PostgresDialect, SqliteDialect } from 'kysely';
import pg from 'pg';
import type { Logger } from '../errors.js';
import { migrationProvider } from './migrations.js';
import type { Database } from './schema.js';

export type Dialect = 'sqlite' | 'postgres';

export interface Store {
  db: Kysely<Database>;
  dialect: Dialect;
  close(): Promise<void>;
}

export interface OpenStoreOptions {
  /** `postgres://…` selects PostgreSQL; absent: SQLite at `sqliteFile`. */
  databaseUrl?: string;
  /** Default `./data/gatehouse.db`; `:memory:` for a throwaway store. */
  sqliteFile?: string;
  /** PostgreSQL schema to use (created if missing); tests isolate themselves with it. */
  postgresSchema?: string;
  logger: Logger;
}

/**
 * @example
 * const store = await openStore({ databaseUrl: process.env.DATABASE_URL, logger });
 * const teams = await store.db.selectFrom('teams').selectAll().execute();
 */
export async function openStore(options: OpenStoreOptions): Promise<Store> {
  const { logger } = options;
  let db: Kysely<Database>;
  let dialect: Dialect;
  if (options.databaseUrl !== undefined && /^postgres(ql)?:\/\//.test(options.databaseUrl)) {
    dialect = 'postgres';
    const schema = options.postgresSchema;
    if (schema !== undefined) {
      if (!/^[a-z_][a-z0-9_]{0,62}$/.test(schema)) throw new Error(`invalid PostgreSQL schema name "${schema}"`);
      const admin = new pg.Client({ connectionString: options.databaseUrl });
      await admin.connect();
      try {
        await admin.query(`create schema if not exists ${schema}`);
      } finally {
        await admin.end();
      }
    }
    // The schema is set at connection start-up, so every pooled connection uses it.
    const pool = new pg.Pool({ connectionString: options.databaseUrl, max: 10, ...(schema === undefined ? {} : { options: `-c search_path=${schema}` }) });
    db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  } else {
    dialect = 'sqlite';
    const file = options.sqliteFile ?? './data/gatehouse.db';
    if (file !== ':memory:') mkdirSync(dirname(file), { recursive: true });
    const sqlite = new SQLite(file);
    // WAL lets readers run beside the writer; foreign keys are off by default in SQLite.
    sqlite.pragma('journal_mode = WAL');
    sqlite.pragma('foreign_keys = ON');
    sqlite.pragma('busy_timeout = 5000');
    // Access records arrive 2000 to a transaction and land in seven indexes, two of them keyed
    // by random values (trace id, subject): each commit dirties thousands of pages. A 64 MiB page
    // cache (default 2 MiB) keeps the index pages those inserts walk in memory, and
    // checkpointing once the WAL holds 64 MiB (default 4 MiB, i.e. after every such commit)
    // copies a page rewritten by several commits into the database once, not once per commit.
    // Durability is unchanged (synchronous stays FULL). Measured by test/bench/audit-queries.ts.
    sqlite.pragma('cache_size = -65536');
    sqlite.pragma('wal_autocheckpoint = 16384');
    db = new Kysely<Database>({ dialect: new SqliteDialect({ database: sqlite }) });
  }
  // Kysely looks for its own tables by introspection across schemas: name ours explicitly.
  const migrator = new Migrator({
    db,
    provider: migrationProvider,
    ...(dialect === 'postgres' && options.postgresSchema !== undefined ? { migrationTableSchema: options.postgresSchema } : {}),
  });
  const { error, results } = await migrator.migrateToLatest();
  for (const result of results ?? []) {
    if (result.status === 'Success') logger.info('store migration applied', { migration: result.migrationName, dialect });
    else if (result.status === 'Error') logger.error('store migration failed', { migration: result.migrationName, dialect });
  }
  if (error !== undefined) {
    await db.destroy();
    throw error instanceof Error ? error : new Error(String(error));
  }
  return { db, dialect, close: () => db.destroy() };
}
