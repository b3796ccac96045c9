/** The README's demo commands are the ones the demo test runs, verbatim. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { renderAdminExamplesMarkdown, renderExamplesMarkdown } from '../gateway/demo/examples.js';

describe('README', () => {
  const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');

  it('shows the two set-up commands', () => {
    assert.match(readme, /^npm start\b/m);
    assert.match(readme, /^npm test\b/m);
  });

  it('shows every demo example exactly as the demo test runs it', () => {
    const commands = renderExamplesMarkdown()
      .split('\n')
      .filter((line) => line.startsWith('curl ') || /^[A-Z_]+_TOKEN=\$\(curl /.test(line));
    assert.ok(commands.length >= 10);
    for (const command of commands) assert.ok(readme.includes(command), `README lacks: ${command}`);
  });

  it('shows every admin API example exactly as the demo test runs it', () => {
    const commands = renderAdminExamplesMarkdown()
      .split('\n')
      .filter((line) => line.startsWith('curl ') || /^[A-Z_]+_TOKEN=\$\(curl /.test(line));
    assert.ok(commands.length >= 3);
    for (const command of commands) assert.ok(readme.includes(command), `README lacks: ${command}`);
  });

  it('documents the distributed entry points and their environment', () => {
    assert.match(readme, /^## Distributed mode$/m);
    for (const text of ['node --import tsx control-plane/main.ts', 'npm run gateway', 'CONTROL_PLANE_URL', 'OIDC_ISSUER', 'SERVICE_CLIENT_ROLES', 'GATEWAY_CLIENT_SECRET', 'DATABASE_URL', 'REDIS_URL']) {
      assert.ok(readme.includes(text), `README lacks ${text}`);
    }
  });
});
