/** A version's contract: JSON or YAML in, operations derived, problems as pointers; semver order. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { stringify } from 'yaml';
import { checkContract, compareSemver } from '../../control-plane/version-contract.js';

const orders30 = JSON.parse(readFileSync(new URL('../policies/contracts/orders-3.0.json', import.meta.url), 'utf8')) as Record<string, unknown>;
const orders31 = JSON.parse(readFileSync(new URL('../policies/contracts/orders-3.1.json', import.meta.url), 'utf8')) as Record<string, unknown>;

const ORDER_OPERATIONS = [
  { id: 'listOrders', method: 'GET', path: '/orders' },
  { id: 'createOrder', method: 'POST', path: '/orders' },
  { id: 'getOrder', method: 'GET', path: '/orders/{orderId}' },
  { id: 'updateOrder', method: 'PATCH', path: '/orders/{orderId}' },
  { id: 'health', method: 'GET', path: '/health' },
];

const pointers = (raw: unknown): string[] => checkContract(raw).problems.map((p) => p.pointer);

describe('version contract', () => {
  it('derives operations from 3.0 and 3.1 documents, as JSON objects, JSON text or YAML text', () => {
    for (const raw of [orders30, orders31, JSON.stringify(orders31), stringify(orders30)]) {
      const { checked, problems } = checkContract(raw);
      assert.deepEqual(problems, []);
      assert.deepEqual(checked!.operations, ORDER_OPERATIONS);
    }
    assert.equal(checkContract(stringify(orders31)).checked!.dialect, '3.1');
    assert.deepEqual(checkContract(stringify(orders30)).checked!.contract, orders30, 'YAML parses to the same document');
  });

  it('reports every problem with a pointer into /body/contract', () => {
    const contract = structuredClone(orders30) as { openapi: string; paths: Record<string, Record<string, Record<string, unknown>>> };
    contract.openapi = '2.0';
    delete contract.paths['/orders']!.post!.operationId;
    contract.paths['/health']!.get!.operationId = 'getOrder';
    contract.paths['/orders/{order-id}'] = { trace: { operationId: 'traceIt', responses: {} } };
    (contract.paths as Record<string, unknown>)['/ref'] = { $ref: '#/components/pathItems/Missing' };
    assert.deepEqual(pointers(contract).sort(), [
      '/body/contract/openapi',
      '/body/contract/paths/~1health/get/operationId',
      '/body/contract/paths/~1orders/post/operationId',
      '/body/contract/paths/~1orders~1{order-id}',
      '/body/contract/paths/~1ref',
    ]);
    assert.deepEqual(pointers({ openapi: '3.1.0', info: { title: 'x', version: '1' }, paths: { '/x': { trace: { operationId: 'x' } } } }), ['/body/contract/paths/~1x/trace']);
    assert.deepEqual(pointers({ openapi: '3.1.0', info: { title: 'x', version: '1' } }), ['/body/contract/paths']);
    assert.deepEqual(pointers({ openapi: '3.1.0', info: { title: 'x', version: '1' }, paths: {} }), ['/body/contract/paths']);
    assert.deepEqual(pointers(42), ['/body/contract']);
    assert.deepEqual(pointers('- just\n- a list\n'), ['/body/contract']);
    const broken = checkContract('openapi: 3.1.0\npaths:\n  /x: [unclosed\n');
    assert.deepEqual(broken.problems.map((p) => p.pointer), ['/body/contract']);
    assert.match(broken.problems[0]!.detail, /not valid YAML or JSON \(line \d+, column \d+\)/);
    assert.deepEqual(pointers('openapi: 3.1.0\nopenapi: 3.0.0\n'), ['/body/contract'], 'duplicate keys are refused');
  });

  it('orders versions by semver precedence', () => {
    const sorted = ['1.10.0', '1.2.0', '1.2.0-rc.1', '1.2.0-alpha', '1.2.0-rc.10', '0.9.9', '2.0.0', '1.2.0-rc.2'].sort(compareSemver);
    assert.deepEqual(sorted, ['0.9.9', '1.2.0-alpha', '1.2.0-rc.1', '1.2.0-rc.2', '1.2.0-rc.10', '1.2.0', '1.10.0', '2.0.0']);
  });
});
