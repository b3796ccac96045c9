/** The README's demo commands are the ones the demo test runs, verbatim. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { renderExamplesMarkdown } from '../gateway/demo/examples.js';

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
});
