// The images page renders on the server, hydrates in the browser, and its
// filter then works client-side (and an empty filter says so).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { useServerAndBrowser, watchedPage, hydrated, shot } from './server.mjs';

const ctx = useServerAndBrowser(['--repo', 'demo']);
const demo = ['ci-base', 'node20', 'python3', 'shellcheck', 'tox'];

test('server-rendered images page lists the demo catalog without JavaScript', async () => {
  const html = await (await fetch(ctx.server.url + '/images')).text();
  for (const name of demo) assert.match(html, new RegExp(`data-image="${name}"`));
  assert.match(html, /href="\/images\/python3"/, 'image names are links');
  assert.match(html, /shellcheck: the template uses <code>&quot;node20&quot; \| image_tag<\/code>|shellcheck: the template uses <code>"node20" \| image_tag/);
});

test('without JavaScript the page is complete and nothing of the front end is downloaded', async () => {
  const context = await ctx.browser.newContext({ javaScriptEnabled: false });
  const page = await context.newPage();
  const fetched = [];
  page.on('request', (r) => fetched.push(new URL(r.url()).pathname));
  await page.goto(ctx.server.url + '/images');
  await page.waitForLoadState('networkidle');
  assert.equal(await page.locator('table.catalog tbody tr').count(), demo.length);
  assert.deepEqual(fetched.filter((p) => /\/pkg\/app(_bg\.wasm|\.js)$/.test(p)), [], fetched.join(' '));
  await context.close();
});

test('the filter narrows the table in the browser, and an empty result says so', async () => {
  const page = await watchedPage(ctx.browser, { viewport: { width: 1280, height: 800 } });
  await page.goto(ctx.server.url + '/images');
  await hydrated(page);
  assert.equal(await page.textContent('#shown-count'), '5');
  await page.fill('#filter', 'py');
  await page.waitForFunction(() => document.querySelector('#shown-count').textContent === '1');
  assert.deepEqual(await page.$$eval('tbody tr', (rows) => rows.map((r) => r.dataset.image)), ['python3']);
  await page.fill('#filter', 'zzz');
  await page.waitForSelector('p.empty');
  assert.match(await page.textContent('p.empty'), /No image name contains “zzz”/);
  await shot(page, 'wide-images-filtered');
  await page.fill('#filter', '');
  await page.waitForFunction(() => document.querySelector('#shown-count').textContent === '5');
  assert.deepEqual(await page.$$eval('tbody tr', (rows) => rows.map((r) => r.dataset.image)), demo);
  assert.deepEqual(page.errors, []);
  await page.context().close();
});
