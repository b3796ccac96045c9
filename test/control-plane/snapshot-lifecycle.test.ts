/**
 * @module The snapshot builder carries deprecation into the snapshot: a deprecated version gets
 * its deprecation time, its sunset and the nearest higher published major as successor; a
 * retired one keeps its sunset and successor; the published one carries none of them.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { sql } from 'kysely';
import { buildSnapshot, createSnapshotChecker, loadSnapshotState } from '../../control-plane/snapshot/builder.js';
import { openTestStore } from '../support/stores.js';
import { insertApi, insertTeam, insertVersion } from './snapshot-rows.js';

describe('snapshot builder: deprecation and retirement', () => {
  it('puts deprecatedAt, sunset and successor on deprecated and retired versions', async (t) => {
    const store = await openTestStore(t, 'sqlite');
    if (store === undefined) return;
    t.after(() => store.dispose());
    await insertTeam(store);
    await insertApi(store, 'shop', 'http://127.0.0.1:9/shop');
    await insertVersion(store, { api: 'shop', version: '1.4.0', status: 'deprecated' });
    await insertVersion(store, { api: 'shop', version: '2.0.0', status: 'published' });
    await insertVersion(store, { api: 'shop', version: '3.0.0', status: 'published' });
    await insertVersion(store, { api: 'shop', version: '0.9.0', status: 'retired' });
    await sql`update api_versions set sunset = ${'2027-03-31T00:00:00.000Z'}, updated_at = ${'2026-11-20T10:00:00.000Z'} where version = ${'1.4.0'}`.execute(store.db);
    await sql`update api_versions set sunset = ${'2026-06-30T00:00:00.000Z'} where version = ${'0.9.0'}`.execute(store.db);

    const snapshot = buildSnapshot(await loadSnapshotState(store.db), { generatedAt: '2026-11-27T00:00:00.000Z' });
    createSnapshotChecker()(snapshot);
    const versions = Object.fromEntries(snapshot.apis[0]!.versions.map((v) => [v.version, v]));
    assert.deepEqual(
      { deprecatedAt: versions['1.4.0']!.deprecatedAt, sunset: versions['1.4.0']!.sunset, successor: versions['1.4.0']!.successor },
      { deprecatedAt: '2026-11-20T10:00:00.000Z', sunset: '2027-03-31T00:00:00.000Z', successor: '/shop/v2' },
    );
    assert.deepEqual({ sunset: versions['0.9.0']!.sunset, successor: versions['0.9.0']!.successor }, { sunset: '2026-06-30T00:00:00.000Z', successor: '/shop/v2' });
    // A successor named when deprecating wins over the nearest higher major.
    await sql`update api_versions set successor = ${'3.0.0'} where version = ${'1.4.0'}`.execute(store.db);
    const named = buildSnapshot(await loadSnapshotState(store.db), { generatedAt: '2026-11-27T00:00:00.000Z' });
    assert.equal(named.apis[0]!.versions.find((v) => v.version === '1.4.0')!.successor, '/shop/v3');
    for (const current of ['2.0.0', '3.0.0']) {
      assert.deepEqual([versions[current]!.deprecatedAt, versions[current]!.sunset, versions[current]!.successor], [undefined, undefined, undefined]);
    }
  });
});
