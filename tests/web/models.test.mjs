/* models.test.mjs - the page's own model-name rules (web/models.js), run in
 * node as they are: empty and duplicate names are refused with a message,
 * everything else is left to the control plane. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';

/* web/ is served to browsers as plain .js files, which node would read as
 * CommonJS; load the module from its source text instead (it imports nothing). */
const src = fs.readFileSync(new URL('../../web/models.js', import.meta.url), 'utf8');
const { normalizeModelName, checkNewModel } = await import('data:text/javascript,' + encodeURIComponent(src));

test('surrounding white space is dropped, inner kept', () => {
    assert.equal(normalizeModelName('  gpt-4o \t'), 'gpt-4o');
    assert.equal(normalizeModelName('a b'), 'a b');
    assert.equal(normalizeModelName(undefined), '');
    assert.equal(normalizeModelName(null), '');
});

test('empty names are refused', () => {
    assert.match(checkNewModel('', ['x']), /Type a model name/);
    assert.match(checkNewModel(normalizeModelName('   '), []), /Type a model name/);
});

test('duplicates are refused, case and all', () => {
    assert.match(checkNewModel('gpt-4o', ['gpt-4o', 'o1']), /already in the list/);
    assert.equal(checkNewModel('GPT-4o', ['gpt-4o']), null, 'model names are case-sensitive');
});

test('anything else is for the control plane to judge', () => {
    assert.equal(checkNewModel('gpt-4.1', []), null);
    assert.equal(checkNewModel('m'.repeat(129), []), null);
    assert.equal(checkNewModel('<script>', []), null);
});
