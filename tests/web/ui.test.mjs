/* ui.test.mjs - browser tests of the modelmux web UI (SPEC section 4),
 * against a real modelmux-cp: Debian's chromium driven by playwright-core,
 * run by node's own test runner. tests/e2e/test_web_ui.py starts the
 * control plane on a fresh database and runs this file:
 *
 *   MM_CP_URL=http://127.0.0.1:PORT MM_ADMIN_TOKEN=... MM_DP_TOKEN=... \
 *     node --test tests/web/ui.test.mjs
 *
 * The tests run in order in one browser and build on each other's state
 * (the vendors they add); every change the page makes is checked again
 * through the REST API from node. Along the way every request the page makes
 * is recorded: none may leave the control plane's origin, none may touch
 * /api/v1/secrets, and the page must raise no script error.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { CP_URL, TOKEN, launch, ok, rest, signIn } from './browser.mjs';

const DP_TOKEN = process.env.MM_DP_TOKEN || '';
const PHONE = { width: 375, height: 740 };

let browser;
let page;
const requests = [];
const pageErrors = [];
const fixture = {};

/* A page of the shared context that records what it does. */
async function newPage(context) {
    const p = await context.newPage();
    p.on('pageerror', e => pageErrors.push(e.message));
    p.on('console', m => {
        if (m.type() === 'error') pageErrors.push('console: ' + m.text());
    });
    return p;
}

function vendorCard(p, name) {
    return p.locator('article.vendor').filter({ has: p.getByRole('heading', { level: 3, name, exact: true }) });
}

async function chipNames(card) {
    return card.locator('.chip .chip-label').allTextContents();
}

async function restModels(vendorId) {
    return (await ok('GET', '/vendors/' + encodeURIComponent(vendorId) + '/models')).items;
}

/* The API's own error message for a call, to compare with what the page shows. */
async function apiMessage(method, path, body) {
    const r = await rest(method, path, body);
    assert.ok(r.status >= 400, method + ' ' + path + ' was expected to fail, got ' + r.status);
    assert.equal(typeof r.body?.error?.message, 'string', 'error body shape: ' + JSON.stringify(r.body));
    return { status: r.status, message: r.body.error.message };
}

async function noHorizontalOverflow(p, what) {
    const [scroll, inner] = await p.evaluate(() => [document.documentElement.scrollWidth, window.innerWidth]);
    assert.ok(scroll <= inner, what + ': page is ' + scroll + 'px wide in a ' + inner + 'px viewport');
}

async function createVendor(name, models = []) {
    return ok('POST', '/vendors', {
        name, apiVersion: 'v1', description: '', models,
        requestModel: { in: 'body', field: 'model' }, responseModel: { in: 'body', field: 'model' },
        usage: { promptTokens: 'usage.prompt_tokens', completionTokens: 'usage.completion_tokens',
            totalTokens: 'usage.total_tokens' },
        auth: { header: 'Authorization', prefix: 'Bearer ' },
    });
}

/* A throwaway self-signed certificate (public; made with openssl for the
 * tests) for an endpoint's TLS settings. */
const TEST_CERT =
    '-----BEGIN CERTIFICATE-----\n' +
    'MIIBczCCARmgAwIBAgIUNA5QTJ8SpviHvpBK6wgRan1u4dcwCgYIKoZIzj0EAwIw\n' +
    'DzENMAsGA1UEAwwEdW5pdDAeFw0yNjEyMDUxNTE2MzBaFw0zNjEyMDIxNTE2MzBa\n' +
    'MA8xDTALBgNVBAMMBHVuaXQwWTATBgcqhkjOPQIBBggqhkjOPQMBBwNCAAQjGYQF\n' +
    'RHu8edskalPbkQHJX9d030J6fcMnFdOPIKyx3gTz0MUd+WrTlUcGJp8ZjWeD5zGg\n' +
    '+Vvn2kSlWmACV3yoo1MwUTAdBgNVHQ4EFgQUMUf9RSz0zBlVVvz4nNCar84Zr6ww\n' +
    'HwYDVR0jBBgwFoAUMUf9RSz0zBlVVvz4nNCar84Zr6wwDwYDVR0TAQH/BAUwAwEB\n' +
    '/zAKBggqhkjOPQQDAgNIADBFAiAInYSwVeBGl5hGexl3gUiGUW/LIUKnl5rCLCSB\n' +
    'y8awUQIhAL4uPAy2iFWyerqnMf5KZcmzjr3i6vEw2sIR4ZE6V1dE\n' +
    '-----END CERTIFICATE-----\n';

describe('modelmux web UI', () => {
    before(async () => {
        assert.ok(TOKEN, 'MM_ADMIN_TOKEN must be set');
        /* State the page will show: a vendor of our own for chip edits, and
         * an API whose round-robin policy uses OpenAI's gpt-4o, so removing
         * gpt-4o is refused by the API (409). */
        const vendors = (await ok('GET', '/vendors')).items;
        fixture.openai = vendors.find(v => v.name === 'OpenAI');
        assert.ok(fixture.openai, 'built-in vendor OpenAI missing: ' + JSON.stringify(vendors));
        fixture.chips = await createVendor('ChipTest', ['alpha-1', 'beta-2', 'gamma-3']);
        fixture.api = await ok('POST', '/apis', {
            name: 'ui-test-api', basePath: '/ui-test', version: '1.0', vendor: fixture.openai.id,
        });
        const apiPath = '/apis/' + encodeURIComponent(fixture.api.id);
        fixture.endpoint = await ok('POST', apiPath + '/endpoints', {
            name: 'ui-test-prod', environment: 'production', url: 'http://127.0.0.1:9/v1',
        });
        fixture.tlsEndpoint = await ok('POST', apiPath + '/endpoints', {
            name: 'ui-test-tls', environment: 'production', url: 'https://127.0.0.1:9/v1',
            tls: { caCert: TEST_CERT, clientCert: TEST_CERT,
                clientKey: { secret: 'ui-tls-key', secretKey: 'key' } },
        });
        fixture.policy = await ok('POST', apiPath + '/policies', {
            type: 'modelRoundRobin', suspendDurationSec: 60,
            production: [{ model: 'gpt-4o', endpoint: fixture.endpoint.id }],
        });
        browser = await launch();
        browser.context.on('request', r => requests.push(r.method() + ' ' + r.url()));
        page = await newPage(browser.context);
    });

    after(async () => {
        if (browser) await browser.close();
    });

    it('serves the page from /ui/ with nothing from elsewhere', async () => {
        const res = await page.goto(CP_URL + '/ui/');
        assert.equal(res.status(), 200);
        assert.match(res.headers()['content-type'] || '', /^text\/html/);
        await page.getByRole('heading', { name: 'Sign in' }).waitFor();
        assert.equal(await page.getByLabel('Admin token').getAttribute('type'), 'password');
    });

    it('refuses an empty token in the page', async () => {
        const before = requests.length;
        await page.getByRole('button', { name: 'Sign in' }).click();
        await page.getByRole('alert').filter({ hasText: 'Enter the admin token.' }).waitFor();
        /* A token that cannot go into an HTTP header is refused before sending. */
        await page.getByLabel('Admin token').fill('tök en\u2028');
        await page.getByRole('button', { name: 'Sign in' }).click();
        await page.getByRole('alert').filter({ hasText: 'no spaces and only plain ASCII' }).waitFor();
        assert.equal(requests.slice(before).filter(r => r.includes('/api/v1/')).length, 0);
    });

    it('shows a clear message for a wrong token and stays signed out', async () => {
        await signIn(page, 'not-the-admin-token');
        const alert = page.getByRole('alert');
        await alert.filter({ hasText: 'Wrong admin token' }).waitFor();
        assert.match(await alert.textContent(), /refused it \(401\)/);
        assert.equal(await page.locator('#view').isVisible(), false);
        assert.equal(await page.getByLabel('Admin token').getAttribute('aria-invalid'), 'true');
        assert.equal(await page.evaluate(() => sessionStorage.length), 0);
    });

    it('signs in and lists every vendor with its models as chips', async () => {
        await signIn(page);
        await page.getByRole('heading', { level: 1, name: 'Vendors' }).waitFor();
        const stored = await page.evaluate(() => Object.values(sessionStorage));
        assert.deepEqual(stored, [TOKEN]);
        assert.equal(await page.evaluate(() => localStorage.length), 0, 'the token is kept for this tab only');
        assert.ok(!page.url().includes(TOKEN), 'the token stays out of the URL');
        assert.equal(await page.getByLabel('Admin token').inputValue(), '', 'the field is cleared');
        const vendors = (await ok('GET', '/vendors')).items;
        await vendorCard(page, 'ChipTest').waitFor();
        assert.equal(await page.locator('article.vendor').count(), vendors.length);
        for (const v of vendors)
            assert.deepEqual(await chipNames(vendorCard(page, v.name)), v.models, 'chips of ' + v.name);
        const remove = vendorCard(page, 'OpenAI').getByRole('button', { name: 'Remove gpt-4o', exact: true });
        assert.equal(await remove.count(), 1, 'the × of a chip is a button named "Remove <model>"');
    });

    it('adds a model with Enter, removes one with ×, and Update saves it', async () => {
        const card = vendorCard(page, 'ChipTest');
        const input = card.getByLabel('Add a model to ChipTest');
        await input.fill('  delta-4  ');
        await input.press('Enter');
        assert.equal(await input.inputValue(), '', 'the input is cleared after Enter');
        await card.getByRole('button', { name: 'Remove beta-2', exact: true }).click();
        assert.deepEqual(await chipNames(card), ['alpha-1', 'gamma-3', 'delta-4']);
        await card.getByText('Unsaved changes').waitFor();
        /* Nothing is sent before Update. */
        assert.deepEqual(await restModels(fixture.chips.id), ['alpha-1', 'beta-2', 'gamma-3']);
        await card.getByRole('button', { name: 'Update', exact: true }).click();
        await card.locator('.msg[data-kind="ok"]').filter({ hasText: 'Saved.' }).waitFor();
        assert.equal(await card.getByText('Unsaved changes').isVisible(), false);
        assert.deepEqual(await restModels(fixture.chips.id), ['alpha-1', 'gamma-3', 'delta-4']);
    });

    it('shows the saved list after a reload, as the REST API does', async () => {
        await page.reload();
        const card = vendorCard(page, 'ChipTest');
        await card.waitFor();
        assert.deepEqual(await chipNames(card), ['alpha-1', 'gamma-3', 'delta-4']);
        assert.deepEqual(await chipNames(card), await restModels(fixture.chips.id));
        const v = (await ok('GET', '/vendors')).items.find(x => x.id === fixture.chips.id);
        assert.deepEqual(v.models, ['alpha-1', 'gamma-3', 'delta-4']);
    });

    it('refuses empty and duplicate names in the page', async () => {
        const card = vendorCard(page, 'ChipTest');
        const input = card.getByLabel('Add a model to ChipTest');
        const msg = card.locator('.msg');
        await input.fill('   ');
        await input.press('Enter');
        assert.equal(await msg.getAttribute('data-kind'), 'error');
        assert.match(await msg.textContent(), /Type a model name/);
        assert.equal(await input.getAttribute('aria-invalid'), 'true');
        await input.fill('gamma-3');
        await input.press('Enter');
        assert.match(await msg.textContent(), /“gamma-3” is already in the list/);
        assert.deepEqual(await chipNames(card), ['alpha-1', 'gamma-3', 'delta-4']);
        assert.equal(await card.getByText('Unsaved changes').isVisible(), false);
        /* A refused name typed but not entered keeps Update from saving. */
        const before = requests.length;
        await card.getByRole('button', { name: 'Update', exact: true }).click();
        assert.match(await msg.textContent(), /already in the list/);
        assert.equal(requests.slice(before).filter(r => r.startsWith('PUT ')).length, 0);
        await input.fill('');
    });

    it('says so when Update is pressed with a duplicate name in the box', async () => {
        const card = vendorCard(page, 'ChipTest');
        const input = card.getByLabel('Add a model to ChipTest');
        const msg = card.locator('.msg');
        const chipsBefore = await chipNames(card);
        await card.getByRole('button', { name: 'Remove gamma-3', exact: true }).click();
        assert.match(await msg.textContent(), /Removed “gamma-3”/);
        await input.fill('  alpha-1 ');
        const before = requests.length;
        await card.getByRole('button', { name: 'Update', exact: true }).click();
        assert.equal(await msg.getAttribute('data-kind'), 'error');
        assert.equal(await msg.textContent(),
            'Not saved: “alpha-1” is already in the list. Clear the box or change the name, then press Update.');
        assert.equal(await input.getAttribute('aria-invalid'), 'true');
        assert.equal(await input.inputValue(), '  alpha-1 ', 'the text stays for the user to fix');
        assert.equal(requests.slice(before).filter(r => r.startsWith('PUT ')).length, 0);
        assert.deepEqual(await restModels(fixture.chips.id), chipsBefore);
        await input.fill('');
        await card.getByRole('button', { name: 'Discard changes' }).click();
        assert.deepEqual(await chipNames(card), chipsBefore);
    });

    it('shows the API’s message when it refuses a name (400) and keeps the list', async () => {
        const card = vendorCard(page, 'ChipTest');
        const input = card.getByLabel('Add a model to ChipTest');
        const long = 'm'.repeat(129);
        const list = ['alpha-1', 'gamma-3', 'delta-4', long];
        const expected = await apiMessage('PUT', '/vendors/' + encodeURIComponent(fixture.chips.id) + '/models',
            { items: list });
        assert.equal(expected.status, 400);
        await input.fill(long);
        await input.press('Enter');
        assert.deepEqual(await chipNames(card), list);
        await card.getByRole('button', { name: 'Update', exact: true }).click();
        const err = card.locator('.msg[data-kind="error"]');
        await err.waitFor();
        assert.equal(await err.textContent(), 'Not saved: ' + expected.message);
        assert.deepEqual(await chipNames(card), list, 'the draft stays for the user to fix');
        assert.deepEqual(await restModels(fixture.chips.id), ['alpha-1', 'gamma-3', 'delta-4']);
        await card.getByRole('button', { name: 'Discard changes' }).click();
        assert.deepEqual(await chipNames(card), ['alpha-1', 'gamma-3', 'delta-4']);
    });

    it('shows the API’s 409 when a removed model is used by a policy', async () => {
        const card = vendorCard(page, 'OpenAI');
        const before = fixture.openai.models;
        const without = before.filter(m => m !== 'gpt-4o');
        const expected = await apiMessage('PUT', '/vendors/' + encodeURIComponent(fixture.openai.id) + '/models',
            { items: without });
        assert.equal(expected.status, 409);
        await card.getByRole('button', { name: 'Remove gpt-4o', exact: true }).click();
        await card.getByRole('button', { name: 'Update', exact: true }).click();
        const err = card.locator('.msg[data-kind="error"]');
        await err.waitFor();
        assert.equal(await err.textContent(), 'Not saved: ' + expected.message);
        /* the message says which policy of which API holds the model */
        assert.ok(expected.message.includes('modelRoundRobin policy ' + fixture.policy.id), expected.message);
        assert.ok(expected.message.includes('API \'ui-test-api\' (/ui-test 1.0)'), expected.message);
        assert.deepEqual(await restModels(fixture.openai.id), before);
        await card.getByRole('button', { name: 'Discard changes' }).click();
        assert.deepEqual(await chipNames(card), before);
    });

    it('adds a vendor from the page with OpenAI-like defaults', async () => {
        const form = page.locator('section.add-vendor');
        await form.getByLabel('Name').fill('');
        await form.getByRole('button', { name: 'Add vendor' }).click();
        assert.match(await form.locator('.msg').textContent(), /Give the vendor a name/);
        await form.getByLabel('Name').fill('Acme LLM');
        await form.getByLabel('Auth header').fill('x-api-key');
        await form.getByLabel('Key prefix').fill('');
        await form.getByRole('button', { name: 'Add vendor' }).click();
        await form.locator('.msg[data-kind="ok"]').filter({ hasText: 'Added vendor Acme LLM' }).waitFor();
        await vendorCard(page, 'Acme LLM').waitFor();
        const v = (await ok('GET', '/vendors')).items.find(x => x.name === 'Acme LLM');
        assert.ok(v, 'the REST API lists the new vendor');
        assert.deepEqual(v.auth, { header: 'x-api-key', prefix: '' });
        assert.deepEqual(v.requestModel, { in: 'body', field: 'model' });
        assert.deepEqual(v.responseModel, { in: 'body', field: 'model' });
        assert.equal(v.usage.totalTokens, 'usage.total_tokens');
        assert.equal(await form.getByLabel('Auth header').inputValue(), 'Authorization', 'form reset');
    });

    it('shows the API’s 409 for a vendor name that is taken', async () => {
        const form = page.locator('section.add-vendor');
        const expected = await apiMessage('POST', '/vendors', { name: 'Acme LLM' });
        assert.equal(expected.status, 409);
        await form.getByLabel('Name').fill('Acme LLM');
        await form.getByRole('button', { name: 'Add vendor' }).click();
        const err = form.locator('.msg[data-kind="error"]');
        await err.waitFor();
        assert.equal(await err.textContent(), 'Not added: ' + expected.message);
        assert.equal(await vendorCard(page, 'Acme LLM').count(), 1);
    });

    it('renders hostile names as text', async () => {
        const evil = '<img src=x onerror="window.__mmxss=1">';
        await createVendor(evil, ['<script>window.__mmxss=2</script>']);
        await page.getByRole('button', { name: 'Refresh' }).click();
        const card = vendorCard(page, evil);
        await card.waitFor();
        assert.deepEqual(await chipNames(card), ['<script>window.__mmxss=2</script>']);
        assert.equal(await card.locator('img, script').count(), 0);
        assert.equal(await page.evaluate(() => window.__mmxss), undefined);
    });

    it('works with the keyboard alone', async () => {
        const kb = await newPage(browser.context);
        await kb.goto(CP_URL + '/ui/#/vendors');
        /* Sign in: the token field has focus on load; type, Enter. */
        await kb.locator('#token:focus').waitFor();
        await kb.keyboard.type(TOKEN);
        await kb.keyboard.press('Enter');
        await kb.getByRole('heading', { level: 1, name: 'Vendors' }).waitFor();
        const card = vendorCard(kb, 'ChipTest');
        await card.waitFor();
        const input = card.getByLabel('Add a model to ChipTest');
        /* Tab from the top of the page until the ChipTest input has focus. */
        let reached = false;
        for (let i = 0; i < 80 && !reached; i++) {
            await kb.keyboard.press('Tab');
            reached = await input.evaluate(el => el === document.activeElement);
            if (!reached) {
                const ring = await kb.evaluate(() => {
                    let el = document.activeElement;
                    if (!el || el === document.body) return 'body';
                    /* A chip input draws its ring on the whole chip field. */
                    if (el.matches('.chip-input') && el.matches(':focus-visible')) el = el.closest('.chip-field');
                    else if (!el.matches(':focus-visible')) return 'no :focus-visible on ' + el.outerHTML.slice(0, 60);
                    const s = getComputedStyle(el);
                    return s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) > 0
                        ? 'ok' : el.outerHTML.slice(0, 80);
                });
                assert.equal(ring, 'ok', 'a focused control shows a focus ring');
            }
        }
        assert.ok(reached, 'the model input is reachable with Tab');
        await kb.keyboard.type('kb-model');
        await kb.keyboard.press('Enter');
        assert.deepEqual(await chipNames(card), ['alpha-1', 'gamma-3', 'delta-4', 'kb-model']);
        /* Shift+Tab reaches the last chip's × button; Enter removes that chip. */
        await kb.keyboard.press('Shift+Tab');
        assert.equal(await kb.evaluate(() => document.activeElement.getAttribute('aria-label')), 'Remove kb-model');
        await kb.keyboard.press('Shift+Tab');
        assert.equal(await kb.evaluate(() => document.activeElement.getAttribute('aria-label')), 'Remove delta-4');
        await kb.keyboard.press('Enter');
        assert.deepEqual(await chipNames(card), ['alpha-1', 'gamma-3', 'kb-model']);
        assert.equal(await kb.evaluate(() => document.activeElement.getAttribute('aria-label')), 'Remove kb-model',
            'focus stays in the chip list after a removal');
        await kb.keyboard.press('Space');
        assert.deepEqual(await chipNames(card), ['alpha-1', 'gamma-3']);
        /* Focus went to the input (no chip after); type another, then Tab to Update. */
        assert.ok(await input.evaluate(el => el === document.activeElement));
        await kb.keyboard.type('kb-two');
        await kb.keyboard.press('Enter');
        await kb.keyboard.press('Tab');
        assert.equal(await kb.evaluate(() => document.activeElement.textContent), 'Update');
        await kb.keyboard.press('Enter');
        await card.locator('.msg[data-kind="ok"]').waitFor();
        assert.deepEqual(await restModels(fixture.chips.id), ['alpha-1', 'gamma-3', 'kb-two']);
        await kb.close();
    });

    it('shows the APIs with their policies', async () => {
        await page.getByRole('link', { name: 'APIs' }).click();
        await page.getByRole('heading', { level: 1, name: 'APIs' }).waitFor();
        const card = page.locator('article.api').filter({ hasText: 'ui-test-api' });
        await card.waitFor();
        assert.equal(await page.getByRole('link', { name: 'APIs' }).getAttribute('aria-current'), 'page');
        const text = await card.textContent();
        assert.match(text, /\/ui-test\/1\.0/);
        assert.match(text, /vendor OpenAI/);
        assert.match(text, /Model round robin/);
        assert.match(text, /suspend 60 s/);
        const target = card.locator('.targets li').first();
        assert.match(await target.textContent(), /gpt-4o.*ui-test-prod/);
        assert.equal(await card.locator('.policy-ops').textContent(),
            'Routes /chat/completions, /completions, /responses (the default); ' +
            'other operations go to the first endpoint with the caller’s model.');
        const apis = (await ok('GET', '/apis')).items;
        assert.equal(await page.locator('article.api').count(), apis.length);
    });

    it('shows which endpoints have TLS settings, never a key', async () => {
        const card = page.locator('article.api').filter({ hasText: 'ui-test-api' });
        const plain = card.locator('li.endpoint-item[data-endpoint="ui-test-prod"]');
        const tls = card.locator('li.endpoint-item[data-endpoint="ui-test-tls"]');
        await tls.waitFor();
        assert.match(await plain.textContent(), /production · http:\/\/127\.0\.0\.1:9\/v1/);
        assert.equal(await plain.locator('.badge.tls').count(), 0);
        assert.equal(await tls.locator('.badge.tls').textContent(),
            'TLS: own CA, mutual TLS (key in secret ui-tls-key)');
        const html = await page.content();
        assert.ok(!html.includes('PRIVATE KEY') && !html.includes('BEGIN CERTIFICATE'), 'PEM text on the page');
    });

    it('shows the operations a round robin routes', async () => {
        const apiPath = '/apis/' + encodeURIComponent(fixture.api.id) + '/policies/' +
            encodeURIComponent(fixture.policy.id);
        const { id, ...body } = fixture.policy;
        await ok('PUT', apiPath, { ...body, operations: ['/embeddings', '/chat/completions'] });
        try {
            await page.getByRole('link', { name: 'Vendors' }).click();
            await page.getByRole('link', { name: 'APIs' }).click();
            const card = page.locator('article.api').filter({ hasText: 'ui-test-api' });
            await card.locator('.policy-ops').filter({ hasText: '/embeddings' }).waitFor();
            assert.equal(await card.locator('.policy-ops').textContent(),
                'Routes /embeddings, /chat/completions; ' +
                'other operations go to the first endpoint with the caller’s model.');
        } finally {
            await ok('PUT', apiPath, body);
        }
    });

    it('shows the data planes with the revision each has applied', async () => {
        assert.ok(DP_TOKEN, 'MM_DP_TOKEN must be set');
        /* A data plane at the current revision, through the real channel. */
        const current = (await ok('GET', '/revision')).revision;
        const res = await fetch(CP_URL + '/dp/v1/config?after=' + current + '&wait=0', {
            headers: { Authorization: 'Bearer ' + DP_TOKEN, 'X-Dataplane-Id': 'ui-test-dp' },
        });
        await res.arrayBuffer();
        assert.ok(res.status === 304 || res.status === 200, 'dp channel answered ' + res.status);
        await page.getByRole('link', { name: 'Data planes' }).click();
        await page.getByRole('heading', { level: 1, name: 'Data planes' }).waitFor();
        const now = (await ok('GET', '/revision')).revision;
        assert.equal(await page.locator('#current-revision').textContent(), String(now));
        const dps = (await ok('GET', '/dataplanes')).items;
        const dp = dps.find(d => d.id === 'ui-test-dp');
        assert.ok(dp, 'the REST API lists the data plane: ' + JSON.stringify(dps));
        const row = page.locator('tr[data-dataplane="ui-test-dp"]');
        await row.waitFor();
        const cells = await row.locator('td').allTextContents();
        assert.equal(cells[0], String(dp.revision));
        assert.equal(cells[1], dp.revision === now ? 'Current' : 'Behind by ' + (now - dp.revision));
        /* A change makes it fall behind; Refresh shows that. */
        await ok('POST', '/vendors/' + encodeURIComponent(fixture.chips.id) + '/models', { name: 'epsilon-5' });
        await page.getByRole('button', { name: 'Refresh' }).click();
        await row.locator('td').nth(1).filter({ hasText: /^Behind by \d+$/ }).waitFor();
        assert.equal(await page.locator('#current-revision').textContent(),
            String((await ok('GET', '/revision')).revision));
    });

    it('fits a phone-width screen without sideways scrolling', async () => {
        const phone = await newPage(browser.context);
        await phone.setViewportSize(PHONE);
        await signIn(phone);
        await noHorizontalOverflow(phone, 'sign-in');
        const shown = { vendors: 'article.vendor', apis: 'article.api', dataplanes: 'tr[data-dataplane]' };
        for (const [view, selector] of Object.entries(shown)) {
            await phone.goto(CP_URL + '/ui/#/' + view);
            await phone.locator(selector).first().waitFor();
            await noHorizontalOverflow(phone, view);
        }
        /* A 129-character chip wraps instead of widening the page. */
        await phone.goto(CP_URL + '/ui/#/vendors');
        const card = vendorCard(phone, 'ChipTest');
        await card.waitFor();
        const input = card.getByLabel('Add a model to ChipTest');
        await input.fill('w'.repeat(129));
        await input.press('Enter');
        await noHorizontalOverflow(phone, 'vendors with a long chip');
        const box = await card.boundingBox();
        assert.ok(box.x >= 0 && box.x + box.width <= PHONE.width, 'the card fits the screen');
        await phone.close();
    });

    it('signs out when the stored token stops working', async () => {
        await page.evaluate(() => sessionStorage.setItem('modelmux.adminToken', 'stale-token'));
        await page.reload();
        await page.getByRole('alert').filter({ hasText: 'no longer accepts your admin token' }).waitFor();
        assert.equal(await page.evaluate(() => sessionStorage.length), 0);
        assert.equal(await page.locator('article.vendor').count(), 0);
    });

    it('signs out and forgets the token', async () => {
        await signIn(page);
        await vendorCard(page, 'OpenAI').waitFor();
        await page.getByRole('button', { name: 'Sign out' }).click();
        await page.getByRole('heading', { name: 'Sign in' }).waitFor();
        assert.equal(await page.evaluate(() => sessionStorage.length), 0);
        assert.equal(await page.locator('article.vendor').count(), 0, 'nothing of the session stays on screen');
        await page.reload();
        await page.getByRole('heading', { name: 'Sign in' }).waitFor();
        assert.equal(await page.locator('#nav').isVisible(), false);
    });

    it('fetched nothing but its own files and the API, and no secret', () => {
        assert.ok(requests.length > 10, 'requests were recorded');
        const foreign = requests.filter(r => !r.split(' ')[1].startsWith(CP_URL + '/') &&
            !r.split(' ')[1].startsWith('data:'));
        assert.deepEqual(foreign, []);
        assert.deepEqual(requests.filter(r => r.includes('/secrets')), []);
        assert.deepEqual(pageErrors.filter(e => !/401|409|400|Unauthorized|Conflict|Bad Request/.test(e)), []);
    });
});
