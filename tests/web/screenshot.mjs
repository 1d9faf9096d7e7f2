/* screenshot.mjs - takes docs/ui-screenshot.png: the Vendors page with the
 * built-in vendors and one added vendor, at desktop width.
 *
 * Run against a fresh control plane (it adds a vendor and models):
 *   MM_CP_URL=http://127.0.0.1:PORT MM_ADMIN_TOKEN=... node tests/web/screenshot.mjs [out.png]
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { launch, ok, rest, signIn } from './browser.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const out = process.argv[2] || path.join(here, '..', '..', 'docs', 'ui-screenshot.png');

const vendors = (await ok('GET', '/vendors')).items;
if (!vendors.some(v => v.name === 'Anthropic')) {
    await rest('POST', '/vendors', {
        name: 'Anthropic', apiVersion: 'v1', description: '', models: [],
        requestModel: { in: 'body', field: 'model' }, responseModel: { in: 'body', field: 'model' },
        usage: { promptTokens: 'usage.input_tokens', completionTokens: 'usage.output_tokens',
            totalTokens: 'usage.total_tokens' },
        auth: { header: 'x-api-key', prefix: '' },
    });
}
const browser = await launch({ viewport: { width: 1280, height: 980 }, deviceScaleFactor: 1 });
try {
    const page = await browser.context.newPage();
    await signIn(page);
    const card = page.locator('article.vendor', { has: page.getByRole('heading', { name: 'Anthropic' }) });
    const input = card.getByLabel('Add a model to Anthropic');
    for (const m of ['claude-sonnet-4', 'claude-haiku-4']) {
        if (await card.getByRole('button', { name: 'Remove ' + m }).count() === 0) {
            await input.fill(m);
            await input.press('Enter');
        }
    }
    await card.getByRole('button', { name: 'Update' }).click();
    await card.getByText('Saved.').waitFor();
    await page.evaluate(() => {
        if (document.activeElement) document.activeElement.blur();
        window.scrollTo(0, 0);
    });
    await page.mouse.move(640, 975);
    await page.screenshot({ path: out, fullPage: false });
    console.log('wrote ' + out);
} finally {
    await browser.close();
}
