/**
 * @module Consumers (a team's applications) and their credentials. A consumer carries the OAuth
 * client ids that act as it (each belongs to one consumer only), a webhook URL and an email for
 * notifications. API keys are generated here, returned once, and stored as prefix + SHA-256
 * only; they are listed by prefix and dates, rotated and revoked. Owners of the consumer's
 * team and admins manage both; the key itself is in no response but the one that issued it,
 * and in no audit event or log line.
 */
import { createHash, randomBytes, randomInt } from 'node:crypto';
import { Router, type Request, type Response } from 'express';
import type { Kysely, Transaction } from 'kysely';
import {
  consumerInputSchema,
  consumerPatchSchema,
  credentialInputSchema,
  MAX_GRACE_SECONDS,
  revokeKeyInputSchema,
  rotateInputSchema,
  type ConsumerInput,
  type ConsumerPatch,
  type CredentialInput,
  type RevokeKeyInput,
  type RotateInput,
} from '../../contracts/index.js';
import { generateWebhookSecret } from '../notify/webhook-sender.js';
import { loadOwnership } from './ownership.js';
import type { RouteModule, WebhookUrlCheck } from '../app.js';
import { principalOf, requireRole, type Principal } from '../auth.js';
import { ControlPlaneError } from '../errors.js';
import { bodyValidator, checkIfMatch, etagOf, mutate, pageParams, sendResource, toPage } from '../http.js';
import type { OpenApiFragment } from '../openapi.js';
import type { ApiKeysTable, ConsumersTable, Database } from '../store/schema.js';

// ---------------------------------------------------------------------------------------------
// Shared by the consumer and subscription routes.

/** Whether the caller may act for `teamId`: an owner who belongs to it, or an admin. */
export function actsForTeam(principal: Principal, teamId: string): boolean {
  return principal.roles.has('admin') || (principal.roles.has('owner') && principal.teams.has(teamId));
}

/** 403 `access.role_missing` unless the caller is an owner of one of `teamIds` or an admin. */
export function requireTeamOwner(res: Response, teamIds: readonly string[], doing: string): void {
  const principal = principalOf(res);
  if (teamIds.some((team) => actsForTeam(principal, team))) return;
  const teams = teamIds.map((team) => `"${team}"`).join(' or ');
  throw new ControlPlaneError('access.role_missing', `Only an owner of team ${teams} or an admin may ${doing}.`, {
    extensions: { requiredRoles: ['owner', 'admin'], requiredTeams: [...teamIds] },
  });
}

/** A unique-constraint violation from either engine (PostgreSQL 23505, SQLite SQLITE_CONSTRAINT_*). */
export function isUniqueViolation(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === '23505' || code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY';
}

/** Ids that sort by creation time (cursor paging in creation order): `<kind>_<time><random>`. */
export function newId(kind: string, nowMs: number): string {
  return `${kind}_${nowMs.toString(36).padStart(9, '0')}${randomBytes(6).toString('hex')}`;
}

/** A 400 `request.validation_failed` about one field. */
export function fieldProblem(pointer: string, detail: string): ControlPlaneError {
  return new ControlPlaneError('request.validation_failed', `The request is invalid: ${pointer} ${detail}.`, { extensions: { errors: [{ pointer, detail }] } });
}

// ---------------------------------------------------------------------------------------------
// Consumers.


const LOOPBACK = /^(localhost|127(\.\d{1,3}){3}|\[::1\])$/i;

/** A view with the webhook secret, in the one answer that made it. */
const withSecret = (view: ConsumerView, secret: string | null): ConsumerView & { webhookSecret?: string } => (secret === null ? view : { ...view, webhookSecret: secret });

/**
 * Webhooks leave the network only over TLS; plain http is for a receiver on this machine. The
 * URL guard (SSRF) refuses private, link-local and metadata addresses, loopback unless allowed.
 */
function checkWebhookUrl(value: string, guard: WebhookUrlCheck): void {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw fieldProblem('/body/webhookUrl', 'is not a URL');
  }
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && LOOPBACK.test(url.hostname))) {
    throw fieldProblem('/body/webhookUrl', 'must use https (http only on loopback)');
  }
  if (url.username !== '' || url.password !== '') throw fieldProblem('/body/webhookUrl', 'must not carry user info (credentials in URLs end up in logs)');
  if (url.hash !== '') throw fieldProblem('/body/webhookUrl', 'must not have a fragment');
  const verdict = guard(value);
  if (!verdict.ok) throw fieldProblem('/body/webhookUrl', verdict.reason);
}

export interface ConsumerView {
  id: string;
  name: string;
  team: string;
  clientIds: string[];
  webhookUrl: string | null;
  /** Whether notifications to the webhook are signed (the secret is shown only when made). */
  webhookSecretSet: boolean;
  email: string | null;
  /** The system of record it writes for, or null. */
  speaksFor: string | null;
  createdAt: string;
  updatedAt: string;
}

export const consumerView = (row: ConsumersTable): ConsumerView => ({
  id: row.id,
  name: row.name,
  team: row.team_id,
  clientIds: JSON.parse(row.client_ids) as string[],
  webhookUrl: row.webhook_url,
  webhookSecretSet: row.webhook_secret != null,
  email: row.email,
  speaksFor: row.speaks_for ?? null,
  createdAt: row.created_at,
  updatedAt: row.updated_at,
});

export const consumerEtag = (row: ConsumersTable): string => etagOf('consumer', row.id, row.revision);

/** `speaksFor` must name a system of the ownership registry. */
async function checkSpeaksFor(trx: Transaction<Database>, system: string | null): Promise<void> {
  if (system === null) return;
  const { document } = await loadOwnership(trx);
  if (!document.systems.some((s) => s.id === system)) throw fieldProblem('/body/speaksFor', `is not a system of the ownership registry ("${system}"; known: ${document.systems.map((s) => s.id).join(', ')})`);
}

async function checkTeamExists(trx: Transaction<Database>, team: string): Promise<void> {
  const row = await trx.selectFrom('teams').select('id').where('id', '=', team).executeTakeFirst();
  if (row === undefined) throw fieldProblem('/body/team', `is not a known team ("${team}")`);
}

/**
 * Claims `clientIds` for `consumerId` (releasing what it held before): 409 naming the consumer
 * that holds one already. The primary key of `consumer_client_ids` settles concurrent claims.
 */
async function claimClientIds(trx: Transaction<Database>, consumerId: string, clientIds: readonly string[]): Promise<void> {
  if (clientIds.length > 0) {
    const taken = await trx.selectFrom('consumer_client_ids').selectAll().where('client_id', 'in', [...clientIds]).where('consumer_id', '<>', consumerId).execute();
    if (taken.length > 0) {
      throw new ControlPlaneError('resource.conflict', `OAuth client id ${taken.map((t) => `"${t.client_id}"`).join(', ')} already acts as consumer "${taken[0]!.consumer_id}".`, {
        extensions: { errors: taken.map((t) => ({ pointer: `/body/clientIds/${clientIds.indexOf(t.client_id)}`, detail: `already acts as consumer "${t.consumer_id}"` })) },
      });
    }
  }
  await trx.deleteFrom('consumer_client_ids').where('consumer_id', '=', consumerId).execute();
  if (clientIds.length > 0) await trx.insertInto('consumer_client_ids').values(clientIds.map((client_id) => ({ client_id, consumer_id: consumerId }))).execute();
}

async function loadConsumer(db: Kysely<Database>, id: string): Promise<ConsumersTable> {
  const row = await db.selectFrom('consumers').selectAll().where('id', '=', id).executeTakeFirst();
  if (row === undefined) throw new ControlPlaneError('resource.not_found', `No consumer "${id}".`);
  return row;
}

async function loadKey(db: Kysely<Database>, consumerId: string, keyId: string): Promise<ApiKeysTable> {
  const row = await db.selectFrom('api_keys').selectAll().where('id', '=', keyId).where('consumer_id', '=', consumerId).executeTakeFirst();
  if (row === undefined) throw new ControlPlaneError('resource.not_found', `Consumer "${consumerId}" has no API key "${keyId}".`);
  return row;
}

/** Translates a lost race on a unique constraint into the 409 the pre-check would have given. */
async function conflictOnRace<T>(work: Promise<T>, detail: string): Promise<T> {
  try {
    return await work;
  } catch (error) {
    if (isUniqueViolation(error)) throw new ControlPlaneError('resource.conflict', detail, { cause: error });
    throw error;
  }
}

// ---------------------------------------------------------------------------------------------
// Credentials (API keys).

/** Shown before the dot: `ghk_` + 10 characters of base32 (50 random bits). Not secret. */
export const KEY_PREFIX_PATTERN = /^ghk_[a-z2-7]{10}$/;
const BASE32 = 'abcdefghijklmnopqrstuvwxyz234567';
/** Live (neither revoked nor expired) keys per consumer; rotation may add one in grace. */
export const MAX_LIVE_KEYS = 10;

function newKeyPrefix(): string {
  let out = 'ghk_';
  for (let i = 0; i < 10; i += 1) out += BASE32[randomInt(32)];
  return out;
}

/**
 * A new API key `<prefix>.<secret>`: 32 random bytes of secret (base64url, 43 characters). Only
 * the prefix and the SHA-256 (hex) of the whole key are kept — what the api-key policy checks.
 */
function generateKey(): { prefix: string; key: string; sha256: string } {
  const prefix = newKeyPrefix();
  const key = `${prefix}.${randomBytes(32).toString('base64url')}`;
  return { prefix, key, sha256: createHash('sha256').update(key).digest('hex') };
}

/** What is ever shown of a stored key: never the key, never its hash. */
export interface CredentialView {
  id: string;
  prefix: string;
  createdAt: string;
  expiresAt: string | null;
  revokedAt: string | null;
  /** The key issued when this one was rotated. */
  replacedBy: string | null;
}

export const credentialView = (row: ApiKeysTable): CredentialView => ({
  id: row.id,
  prefix: row.prefix,
  createdAt: row.created_at,
  expiresAt: row.expires_at,
  revokedAt: row.revoked_at,
  replacedBy: row.replaced_by,
});

/** The one answer that carries a key. */
export interface IssuedCredential extends CredentialView {
  /** The API key: send as `X-API-Key`. Shown this once; only its hash is kept. */
  key: string;
}

/** `req.body` may be absent for these actions: no body reads as `{}`. */
function optionalBody<T>(read: (req: Request) => T): (req: Request) => T {
  return (req) => (req.body === undefined ? ({} as T) : read(req));
}

function futureInstant(value: string | undefined | null, nowMs: number, pointer: string): string | null {
  if (value === undefined || value === null) return null;
  const at = Date.parse(value);
  if (!(at > nowMs)) throw fieldProblem(pointer, 'must be in the future');
  return new Date(at).toISOString();
}

const isLive = (row: ApiKeysTable, nowMs: number): boolean => row.revoked_at === null && (row.expires_at === null || Date.parse(row.expires_at) > nowMs);

/** Inserts a fresh key for `consumerId` (a new prefix if one is taken) and returns it with its row. */
async function issueKey(trx: Transaction<Database>, consumerId: string, nowMs: number, expiresAt: string | null): Promise<{ row: ApiKeysTable; key: string }> {
  for (let attempt = 0; attempt < 5; attempt += 1) {
    const { prefix, key, sha256 } = generateKey();
    const clash = await trx.selectFrom('api_keys').select('id').where('prefix', '=', prefix).executeTakeFirst();
    if (clash !== undefined) continue;
    const row: ApiKeysTable = { id: newId('key', nowMs), consumer_id: consumerId, prefix, sha256, created_at: new Date(nowMs).toISOString(), expires_at: expiresAt, revoked_at: null, replaced_by: null };
    await trx.insertInto('api_keys').values(row).execute();
    return { row, key };
  }
  throw new ControlPlaneError('control_plane.internal', 'Could not find a free key prefix; try again.');
}

function sendIssued(res: Response, issued: { row: ApiKeysTable; key: string }, extra: Record<string, unknown> = {}): void {
  // The key is in this body only: no cache may keep it.
  res.setHeader('cache-control', 'no-store');
  res.setHeader('location', `/api/v1/consumers/${issued.row.consumer_id}/credentials/${issued.row.id}`);
  const body: IssuedCredential & Record<string, unknown> = { ...credentialView(issued.row), key: issued.key, ...extra };
  sendResource(res, 201, body);
}

// ---------------------------------------------------------------------------------------------

export const consumersRoutes: RouteModule = (deps) => {
  const { store, clock } = deps;
  const readConsumer = bodyValidator<ConsumerInput>(deps.ajv, consumerInputSchema);
  const readPatch = bodyValidator<ConsumerPatch>(deps.ajv, consumerPatchSchema);
  const readCredential = optionalBody(bodyValidator<CredentialInput>(deps.ajv, credentialInputSchema));
  const readRotate = optionalBody(bodyValidator<RotateInput>(deps.ajv, rotateInputSchema));
  const readRevoke = optionalBody(bodyValidator<RevokeKeyInput>(deps.ajv, revokeKeyInputSchema));
  const router = Router();

  router.get('/consumers', requireRole('owner', 'reviewer', 'auditor'), async (req, res) => {
    const { limit, after } = pageParams(req);
    let query = store.db.selectFrom('consumers').selectAll().orderBy('id').limit(limit + 1);
    if (after !== undefined) query = query.where('id', '>', after);
    if (typeof req.query.team === 'string') query = query.where('team_id', '=', req.query.team);
    sendResource(res, 200, toPage(await query.execute(), limit, (row) => row.id, consumerView));
  });

  router.get('/consumers/:id', requireRole('owner', 'reviewer', 'auditor'), async (req, res) => {
    const row = await loadConsumer(store.db, req.params.id as string);
    sendResource(res, 200, consumerView(row), consumerEtag(row));
  });

  router.post('/consumers', requireRole('owner'), async (req, res) => {
    const input = readConsumer(req);
    requireTeamOwner(res, [input.team], `create consumers of team "${input.team}"`);
    if (input.webhookUrl !== undefined && input.webhookUrl !== null) checkWebhookUrl(input.webhookUrl, deps.notifications.checkWebhookUrl);
    const now = new Date(clock.now()).toISOString();
    const clientIds = input.clientIds ?? [];
    const row: ConsumersTable = {
      id: input.id,
      name: input.name,
      team_id: input.team,
      client_ids: JSON.stringify(clientIds),
      webhook_url: input.webhookUrl ?? null,
      webhook_secret: input.webhookUrl == null ? null : generateWebhookSecret(),
      email: input.email ?? null,
      speaks_for: input.speaksFor ?? null,
      created_at: now,
      updated_at: now,
      revision: 1,
    };
    await conflictOnRace(
      mutate(
        store,
        clock,
        res,
        async ({ trx, audit }) => {
          await checkTeamExists(trx, row.team_id);
          await checkSpeaksFor(trx, row.speaks_for ?? null);
          const existing = await trx.selectFrom('consumers').select('id').where('id', '=', row.id).executeTakeFirst();
          if (existing !== undefined) throw new ControlPlaneError('resource.conflict', `Consumer "${row.id}" exists already.`);
          await trx.insertInto('consumers').values(row).execute();
          await claimClientIds(trx, row.id, clientIds);
          await audit({ action: 'consumer.create', target: `consumers/${row.id}`, after: consumerView(row) });
        },
        () => deps.enforcementChanged(`consumer ${row.id} created`),
      ),
      `Consumer "${row.id}" or one of its OAuth client ids was just taken by another request.`,
    );
    res.setHeader('location', `/api/v1/consumers/${row.id}`);
    sendResource(res, 201, withSecret(consumerView(row), row.webhook_secret ?? null), consumerEtag(row));
  });

  router.patch('/consumers/:id', requireRole('owner'), async (req, res) => {
    const id = req.params.id as string;
    const patch = readPatch(req);
    if (patch.webhookUrl !== undefined && patch.webhookUrl !== null) checkWebhookUrl(patch.webhookUrl, deps.notifications.checkWebhookUrl);
    let madeSecret: string | null = null;
    const updated = await conflictOnRace(
      mutate(
        store,
        clock,
        res,
        async ({ trx, audit }) => {
          const row = await loadConsumer(trx, id);
          requireTeamOwner(res, [row.team_id], `change consumer "${id}"`);
          checkIfMatch(req, consumerEtag(row));
          if (patch.team !== undefined && patch.team !== row.team_id) {
            requireTeamOwner(res, [patch.team], `move a consumer to team "${patch.team}"`);
            await checkTeamExists(trx, patch.team);
          }
          const next: ConsumersTable = {
            ...row,
            name: patch.name ?? row.name,
            team_id: patch.team ?? row.team_id,
            client_ids: patch.clientIds === undefined ? row.client_ids : JSON.stringify(patch.clientIds),
            webhook_url: patch.webhookUrl === undefined ? row.webhook_url : patch.webhookUrl,
            email: patch.email === undefined ? row.email : patch.email,
            speaks_for: patch.speaksFor === undefined ? (row.speaks_for ?? null) : patch.speaksFor,
            updated_at: new Date(clock.now()).toISOString(),
            revision: row.revision + 1,
          };
          // The first webhook URL gets a signing secret, shown in this answer only.
          if (next.webhook_url !== null && row.webhook_secret == null) next.webhook_secret = madeSecret = generateWebhookSecret();
          if (patch.clientIds !== undefined) await claimClientIds(trx, id, patch.clientIds);
          if (patch.speaksFor !== undefined) await checkSpeaksFor(trx, patch.speaksFor);
          const result = await trx
            .updateTable('consumers')
            .set({ name: next.name, team_id: next.team_id, client_ids: next.client_ids, webhook_url: next.webhook_url, webhook_secret: next.webhook_secret ?? null, email: next.email, speaks_for: next.speaks_for ?? null, updated_at: next.updated_at, revision: next.revision })
            .where('id', '=', id)
            .where('revision', '=', row.revision)
            .executeTakeFirst();
          if (result.numUpdatedRows !== 1n) throw new ControlPlaneError('request.precondition_failed', 'The consumer changed while this update ran; read it again and retry.');
          await audit({ action: 'consumer.update', target: `consumers/${id}`, before: consumerView(row), after: consumerView(next) });
          return next;
        },
        () => deps.enforcementChanged(`consumer ${id} changed`),
      ),
      'One of the OAuth client ids was just taken by another consumer.',
    );
    sendResource(res, 200, withSecret(consumerView(updated), madeSecret), consumerEtag(updated));
  });

  // A new signing secret for the consumer's webhook; the old one stops signing at once.
  router.post('/consumers/:id/webhook-secret', requireRole('owner'), async (req, res) => {
    const id = req.params.id as string;
    const secret = generateWebhookSecret();
    const updated = await mutate(store, clock, res, async ({ trx, audit }) => {
      const row = await loadConsumer(trx, id);
      requireTeamOwner(res, [row.team_id], `rotate the webhook secret of consumer "${id}"`);
      if (row.webhook_url === null) throw new ControlPlaneError('lifecycle.invalid_transition', `Consumer "${id}" has no webhook URL; set one first (its secret is made then).`);
      const next: ConsumersTable = { ...row, webhook_secret: secret, updated_at: new Date(clock.now()).toISOString(), revision: row.revision + 1 };
      const result = await trx.updateTable('consumers').set({ webhook_secret: secret, updated_at: next.updated_at, revision: next.revision }).where('id', '=', id).where('revision', '=', row.revision).executeTakeFirst();
      if (result.numUpdatedRows !== 1n) throw new ControlPlaneError('request.precondition_failed', 'The consumer changed while this ran; retry.');
      // The secret itself never enters the audit chain.
      await audit({ action: 'consumer.rotate_webhook_secret', target: `consumers/${id}`, before: consumerView(row), after: consumerView(next) });
      return next;
    });
    sendResource(res, 200, withSecret(consumerView(updated), secret), consumerEtag(updated));
  });

  // --- credentials ---

  router.get('/consumers/:id/credentials', requireRole('owner', 'auditor'), async (req, res) => {
    const consumer = await loadConsumer(store.db, req.params.id as string);
    const principal = principalOf(res);
    if (!principal.roles.has('auditor')) requireTeamOwner(res, [consumer.team_id], `see the credentials of consumer "${consumer.id}"`);
    const { limit, after } = pageParams(req);
    let query = store.db.selectFrom('api_keys').selectAll().where('consumer_id', '=', consumer.id).orderBy('id').limit(limit + 1);
    if (after !== undefined) query = query.where('id', '>', after);
    sendResource(res, 200, toPage(await query.execute(), limit, (row) => row.id, credentialView));
  });

  router.post('/consumers/:id/credentials', requireRole('owner'), async (req, res) => {
    const id = req.params.id as string;
    const input = readCredential(req);
    const nowMs = clock.now();
    const expiresAt = futureInstant(input.expiresAt, nowMs, '/body/expiresAt');
    const issued = await mutate(
      store,
      clock,
      res,
      async ({ trx, audit }) => {
        const consumer = await loadConsumer(trx, id);
        requireTeamOwner(res, [consumer.team_id], `issue API keys for consumer "${id}"`);
        const keys = await trx.selectFrom('api_keys').selectAll().where('consumer_id', '=', id).execute();
        if (keys.filter((k) => isLive(k, nowMs) && k.replaced_by === null).length >= MAX_LIVE_KEYS) {
          throw new ControlPlaneError('resource.conflict', `Consumer "${id}" has ${MAX_LIVE_KEYS} live API keys already; revoke one first.`);
        }
        const fresh = await issueKey(trx, id, nowMs, expiresAt);
        await audit({ action: 'credential.create', target: `consumers/${id}/credentials/${fresh.row.id}`, after: credentialView(fresh.row) });
        return fresh;
      },
      () => deps.enforcementChanged(`API key issued for consumer ${id}`),
    );
    sendIssued(res, issued);
  });

  router.post('/consumers/:id/credentials/:keyId/rotate', requireRole('owner'), async (req, res) => {
    const id = req.params.id as string;
    const keyId = req.params.keyId as string;
    const input = readRotate(req);
    const nowMs = clock.now();
    const expiresAt = futureInstant(input.expiresAt, nowMs, '/body/expiresAt');
    const grace = input.graceSeconds ?? 0;
    const outcome = await mutate(
      store,
      clock,
      res,
      async ({ trx, audit }) => {
        const consumer = await loadConsumer(trx, id);
        requireTeamOwner(res, [consumer.team_id], `rotate API keys of consumer "${id}"`);
        const old = await loadKey(trx, id, keyId);
        if (old.revoked_at !== null) throw new ControlPlaneError('lifecycle.invalid_transition', `API key ${old.prefix} is revoked; issue a new key instead.`, { extensions: { status: 'revoked' } });
        if (old.replaced_by !== null) throw new ControlPlaneError('lifecycle.invalid_transition', `API key ${old.prefix} was rotated already (replaced by ${old.replaced_by}).`, { extensions: { status: 'rotated' } });
        if (!isLive(old, nowMs)) throw new ControlPlaneError('lifecycle.invalid_transition', `API key ${old.prefix} has expired; issue a new key instead.`, { extensions: { status: 'expired' } });
        const fresh = await issueKey(trx, id, nowMs, expiresAt);
        const graceEnd = new Date(nowMs + grace * 1000).toISOString();
        const retired: ApiKeysTable = {
          ...old,
          replaced_by: fresh.row.id,
          ...(grace === 0 ? { revoked_at: new Date(nowMs).toISOString() } : { expires_at: old.expires_at !== null && old.expires_at < graceEnd ? old.expires_at : graceEnd }),
        };
        const result = await trx
          .updateTable('api_keys')
          .set({ replaced_by: retired.replaced_by, revoked_at: retired.revoked_at, expires_at: retired.expires_at })
          .where('id', '=', keyId)
          .where('replaced_by', 'is', null)
          .where('revoked_at', 'is', null)
          .executeTakeFirst();
        if (result.numUpdatedRows !== 1n) throw new ControlPlaneError('lifecycle.invalid_transition', `API key ${old.prefix} was rotated or revoked by another request.`);
        await audit({
          action: 'credential.rotate',
          target: `consumers/${id}/credentials/${keyId}`,
          before: credentialView(old),
          after: { previous: credentialView(retired), issued: credentialView(fresh.row), graceSeconds: grace },
        });
        return { fresh, retired };
      },
      () => deps.enforcementChanged(`API key rotated for consumer ${id}`),
    );
    sendIssued(res, outcome.fresh, { previous: credentialView(outcome.retired) });
  });

  router.post('/consumers/:id/credentials/:keyId/revoke', requireRole('owner'), async (req, res) => {
    const id = req.params.id as string;
    const keyId = req.params.keyId as string;
    const input = readRevoke(req);
    const revoked = await mutate(
      store,
      clock,
      res,
      async ({ trx, audit }) => {
        const consumer = await loadConsumer(trx, id);
        requireTeamOwner(res, [consumer.team_id], `revoke API keys of consumer "${id}"`);
        const row = await loadKey(trx, id, keyId);
        if (row.revoked_at !== null) throw new ControlPlaneError('lifecycle.invalid_transition', `API key ${row.prefix} is revoked already.`, { extensions: { status: 'revoked' } });
        const next: ApiKeysTable = { ...row, revoked_at: new Date(clock.now()).toISOString() };
        const result = await trx.updateTable('api_keys').set({ revoked_at: next.revoked_at }).where('id', '=', keyId).where('revoked_at', 'is', null).executeTakeFirst();
        if (result.numUpdatedRows !== 1n) throw new ControlPlaneError('lifecycle.invalid_transition', `API key ${row.prefix} was revoked by another request.`);
        await audit({ action: 'credential.revoke', target: `consumers/${id}/credentials/${keyId}`, before: credentialView(row), after: credentialView(next), comment: input.comment ?? null });
        return next;
      },
      () => deps.enforcementChanged(`API key revoked for consumer ${id}`),
    );
    sendResource(res, 200, credentialView(revoked));
  });

  return router;
};

// ---------------------------------------------------------------------------------------------

const problem = { $ref: '#/components/responses/Problem' };
const idParameter = { name: 'id', in: 'path', required: true, schema: { type: 'string' } };
const keyIdParameter = { name: 'keyId', in: 'path', required: true, schema: { type: 'string' } };
const ifMatch = { name: 'If-Match', in: 'header', required: true, description: 'The ETag read last (428 without it, 412 when stale).', schema: { type: 'string' } };
const paging = [
  { name: 'limit', in: 'query', schema: { type: 'integer', minimum: 1, maximum: 200, default: 50 } },
  { name: 'cursor', in: 'query', schema: { type: 'string' } },
];
const json = (ref: string) => ({ 'application/json': { schema: { $ref: `#/components/schemas/${ref}` } } });
const pageOf = (ref: string) => ({ 'application/json': { schema: { type: 'object', properties: { items: { type: 'array', items: { $ref: `#/components/schemas/${ref}` } }, nextCursor: { type: 'string' } }, required: ['items'] } } });

const credentialViewSchema = {
  type: 'object',
  description: 'An API key as listed: never the key, never its hash.',
  properties: {
    id: { type: 'string' },
    prefix: { type: 'string', description: 'The part before the dot; not secret.' },
    createdAt: { type: 'string', format: 'date-time' },
    expiresAt: { type: ['string', 'null'], format: 'date-time' },
    revokedAt: { type: ['string', 'null'], format: 'date-time' },
    replacedBy: { type: ['string', 'null'], description: 'The key issued when this one was rotated.' },
  },
  required: ['id', 'prefix', 'createdAt', 'expiresAt', 'revokedAt', 'replacedBy'],
};

export const consumersOpenApi: OpenApiFragment = {
  paths: {
    '/consumers': {
      get: {
        summary: 'List consumers',
        description: 'Roles: owner, reviewer, auditor, admin. Filter `team`; cursor paging.',
        parameters: [{ name: 'team', in: 'query', schema: { type: 'string' } }, ...paging],
        responses: { '200': { description: 'A page of consumers.', content: pageOf('Consumer') }, '401': problem, '403': problem },
      },
      post: {
        summary: 'Create a consumer',
        description: 'Role: owner of `team`, or admin. OAuth client ids already acting as another consumer: 409. A `webhookUrl` is checked against SSRF (no private, link-local or metadata addresses; loopback only where configured) and gets a Standard Webhooks signing secret, in `webhookSecret` of this answer only.',
        requestBody: { required: true, content: json('ConsumerInput') },
        responses: { '201': { description: 'Created (ETag, Location).', content: json('Consumer') }, '400': problem, '401': problem, '403': problem, '409': problem },
      },
    },
    '/consumers/{id}': {
      get: { summary: 'One consumer', description: 'Roles: owner, reviewer, auditor, admin. Answers with its ETag.', parameters: [idParameter], responses: { '200': { description: 'The consumer.', content: json('Consumer') }, '404': problem } },
      patch: {
        summary: 'Change a consumer',
        description: 'Role: owner of the consumer\'s team (and of the new team when moving it), or admin. Partial update; null clears `webhookUrl` / `email`. The first webhook URL set gets a signing secret, in `webhookSecret` of this answer only.',
        parameters: [idParameter, ifMatch],
        requestBody: { required: true, content: json('ConsumerPatch') },
        responses: { '200': { description: 'Changed (new ETag).', content: json('Consumer') }, '400': problem, '403': problem, '404': problem, '409': problem, '412': problem, '428': problem },
      },
    },
    '/consumers/{id}/webhook-secret': {
      post: {
        summary: 'Rotate the webhook signing secret',
        description: 'Role: owner of the consumer\'s team, or admin. A new Standard Webhooks secret (`whsec_…`) signs every delivery from now on, retries of earlier events included; it is in `webhookSecret` of this answer only and never in the audit trail. No webhook URL: 409 lifecycle.invalid_transition.',
        parameters: [idParameter],
        responses: { '200': { description: 'The consumer with `webhookSecret`.', content: json('Consumer') }, '403': problem, '404': problem, '409': problem },
      },
    },
    '/consumers/{id}/credentials': {
      get: {
        summary: 'List the consumer\'s API keys',
        description: 'Roles: owner of the consumer\'s team, auditor, admin. Prefix and dates only.',
        parameters: [idParameter, ...paging],
        responses: { '200': { description: 'A page of keys.', content: pageOf('Credential') }, '403': problem, '404': problem },
      },
      post: {
        summary: 'Issue an API key',
        description: `Role: owner of the consumer's team, or admin. The key (\`ghk_xxxxxxxxxx.<secret>\`, send it as X-API-Key) is in this answer only (Cache-Control: no-store); only its prefix and SHA-256 are kept. At most ${MAX_LIVE_KEYS} live keys per consumer (409).`,
        parameters: [idParameter],
        requestBody: { required: false, content: json('CredentialInput') },
        responses: { '201': { description: 'The new key, shown once.', content: json('IssuedCredential') }, '400': problem, '403': problem, '404': problem, '409': problem },
      },
    },
    '/consumers/{id}/credentials/{keyId}/rotate': {
      post: {
        summary: 'Rotate an API key',
        description: `Role: owner of the consumer's team, or admin. Issues a new key (shown once) and revokes the old one at once, or with \`graceSeconds\` (≤ ${MAX_GRACE_SECONDS}) lets it expire after the grace period. A revoked, expired or already rotated key: 409 lifecycle.invalid_transition.`,
        parameters: [idParameter, keyIdParameter],
        requestBody: { required: false, content: json('RotateInput') },
        responses: { '201': { description: 'The new key, shown once, and the old key as it now is (`previous`).', content: json('IssuedCredential') }, '400': problem, '403': problem, '404': problem, '409': problem },
      },
    },
    '/consumers/{id}/credentials/{keyId}/revoke': {
      post: {
        summary: 'Revoke an API key',
        description: 'Role: owner of the consumer\'s team, or admin. Gateways refuse it from the next snapshot on. Already revoked: 409 lifecycle.invalid_transition.',
        parameters: [idParameter, keyIdParameter],
        requestBody: { required: false, content: json('RevokeKeyInput') },
        responses: { '200': { description: 'The revoked key.', content: json('Credential') }, '403': problem, '404': problem, '409': problem },
      },
    },
  },
  schemas: {
    ConsumerInput: consumerInputSchema,
    ConsumerPatch: consumerPatchSchema,
    Consumer: {
      type: 'object',
      properties: {
        id: { type: 'string' },
        name: { type: 'string' },
        team: { type: 'string' },
        clientIds: { type: 'array', items: { type: 'string' } },
        webhookUrl: { type: ['string', 'null'] },
        webhookSecretSet: { type: 'boolean', description: 'Whether webhook deliveries are signed (always, once a URL was set).' },
        webhookSecret: { type: 'string', description: 'The signing secret, only in the answer that made it.' },
        email: { type: ['string', 'null'] },
        speaksFor: { type: ['string', 'null'], description: 'The system of record it writes for.' },
        createdAt: { type: 'string', format: 'date-time' },
        updatedAt: { type: 'string', format: 'date-time' },
      },
      required: ['id', 'name', 'team', 'clientIds', 'webhookUrl', 'webhookSecretSet', 'email', 'speaksFor', 'createdAt', 'updatedAt'],
    },
    CredentialInput: credentialInputSchema,
    RotateInput: rotateInputSchema,
    RevokeKeyInput: revokeKeyInputSchema,
    Credential: credentialViewSchema,
    IssuedCredential: {
      ...credentialViewSchema,
      description: 'A new API key: the only answer that carries it.',
      properties: { ...credentialViewSchema.properties, key: { type: 'string', description: 'The API key, shown once.' }, previous: { $ref: '#/components/schemas/Credential' } },
      required: [...credentialViewSchema.required, 'key'],
    },
  },
};
