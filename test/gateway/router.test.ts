/** Routing units: version prefixes, operation templates (whole and partial segments), HEAD, Location rewriting. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { rewriteLocation } from '../../gateway/proxy.js';
import { compileOperations, toProxyTarget } from '../../gateway/router.js';

describe('operation matching', () => {
  const match = compileOperations([
    { id: 'list', method: 'GET', path: '/tickets.json' },
    { id: 'create', method: 'POST', path: '/tickets.json' },
    { id: 'show', method: 'GET', path: '/tickets/{id}.json' },
    { id: 'update', method: 'PUT', path: '/tickets/{id}.json' },
    { id: 'call', method: 'POST', path: '/{model}/{method}' },
  ]);

  it('matches static paths, whole-segment and partial-segment parameters', () => {
    assert.deepEqual(match('GET', '/tickets.json?page=2'), { kind: 'found', id: 'list', params: {} });
    assert.deepEqual(match('PUT', '/tickets/1004.json'), { kind: 'found', id: 'update', params: { id: '1004' } });
    assert.deepEqual(match('POST', '/sale.order/search_read'), { kind: 'found', id: 'call', params: { model: 'sale.order', method: 'search_read' } });
  });

  it('never lets a parameter span segments', () => {
    assert.deepEqual(match('GET', '/tickets/10/04.json'), { kind: 'not_found' });
    assert.deepEqual(match('POST', '/a/b/c'), { kind: 'not_found' });
  });

  it('allows HEAD wherever GET is declared and lists methods in a stable order', () => {
    assert.deepEqual(match('HEAD', '/tickets/7.json'), { kind: 'found', id: 'show', params: { id: '7' } });
    assert.deepEqual(match('DELETE', '/tickets/7.json'), { kind: 'method_not_allowed', allow: 'GET, HEAD, PUT' });
    assert.deepEqual(match('DELETE', '/tickets.json'), { kind: 'method_not_allowed', allow: 'GET, HEAD, POST' });
  });
});

describe('Location rewriting', () => {
  const zendesk = { api: 'service-desk', major: 1, target: toProxyTarget('http://127.0.0.1:8071/api/v2') };
  const salesforce = { api: 'crm', major: 2, target: toProxyTarget('http://127.0.0.1:8070/services/data/v62.0') };

  it('maps absolute and relative upstream locations onto the gateway path', () => {
    assert.equal(rewriteLocation('http://127.0.0.1:8071/api/v2/tickets/1006.json', zendesk), '/service-desk/v1/tickets/1006.json');
    assert.equal(rewriteLocation('/services/data/v62.0/sobjects/Case/500Dn0000000004IAA', salesforce), '/crm/v2/sobjects/Case/500Dn0000000004IAA');
  });

  it('leaves other locations alone', () => {
    assert.equal(rewriteLocation('https://login.example/authorize', zendesk), 'https://login.example/authorize');
    assert.equal(rewriteLocation('/api/v20/other', zendesk), '/api/v20/other');
    assert.equal(rewriteLocation('relative/path', zendesk), 'relative/path');
  });
});
