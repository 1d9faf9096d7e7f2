/* browser.mjs - starts Debian's chromium for the web UI tests through
 * playwright-core, with no browser download, a new empty profile per launch,
 * and no traffic but the page's own (no sync, updates, QUIC or background
 * networking). Shared by ui.test.mjs and screenshot.mjs.
 *
 * Environment: MM_CP_URL (control plane base URL, e.g. http://127.0.0.1:9400),
 * MM_ADMIN_TOKEN (its admin token), MM_CHROMIUM (browser, default
 * /usr/bin/chromium).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';

export const CP_URL = (process.env.MM_CP_URL || 'http://127.0.0.1:9400').replace(/\/+$/, '');
export const TOKEN = process.env.MM_ADMIN_TOKEN || '';
const CHROMIUM = process.env.MM_CHROMIUM || '/usr/bin/chromium';

const ARGS = ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
    '--disable-sync', '--no-first-run', '--disable-quic'];

/* Resolves to {context, close}: a persistent context on a fresh profile
 * directory that close() removes. options go to launchPersistentContext
 * (viewport, ...). */
export async function launch(options = {}) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mm-chromium-'));
    const context = await chromium.launchPersistentContext(dir, {
        executablePath: CHROMIUM,
        headless: true,
        args: ARGS,
        viewport: { width: 1280, height: 900 },
        ...options,
    });
    context.setDefaultTimeout(10000);
    return {
        context,
        async close() {
            await context.close().catch(() => {});
            fs.rmSync(dir, { recursive: true, force: true });
        },
    };
}

/* One REST call to the control plane from node, with the admin token.
 * Resolves to {status, body} (body decoded JSON, or null). */
export async function rest(method, p, body, token = TOKEN) {
    const headers = { Authorization: 'Bearer ' + token };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    const res = await fetch(CP_URL + '/api/v1' + p, {
        method, headers, body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    let data = null;
    try {
        data = text ? JSON.parse(text) : null;
    } catch {
        data = text;
    }
    return { status: res.status, body: data };
}

/* rest() that insists on a 2xx answer and returns the body. */
export async function ok(method, p, body) {
    const r = await rest(method, p, body);
    if (r.status < 200 || r.status > 299)
        throw new Error(method + ' ' + p + ' -> ' + r.status + ' ' + JSON.stringify(r.body));
    return r.body;
}

/* Opens the UI in page and signs in with token (default: the admin token). */
export async function signIn(page, token = TOKEN) {
    await page.goto(CP_URL + '/ui/');
    await page.getByLabel('Admin token').fill(token);
    await page.getByRole('button', { name: 'Sign in' }).click();
}
