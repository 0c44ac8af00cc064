// The images page renders on the server, hydrates in the browser, and its
// filter then works client-side.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { useServerAndBrowser, root } from './server.mjs';

const ctx = useServerAndBrowser(['--repo', 'demo']);

test('server-rendered page lists the demo catalog without JavaScript', async () => {
  const html = await (await fetch(ctx.server.url + '/')).text();
  for (const name of ['ci-base', 'python3', 'node20', 'tox', 'shellcheck']) {
    assert.match(html, new RegExp(`data-image="${name}"`));
  }
  assert.match(html, /shellcheck: the template uses `&quot;node20&quot; \| image_tag`|shellcheck: the template uses `"node20" \| image_tag`/);
});

test('page hydrates: the filter narrows the table in the browser', async () => {
  const page = await ctx.browser.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
  await page.goto(ctx.server.url + '/');
  await page.waitForSelector('#shown-count');
  assert.equal(await page.textContent('#shown-count'), '5');
  // Typing only filters once the WASM bundle has hydrated the page; retry
  // the input until it does (hydration is asynchronous).
  const deadline = Date.now() + 15000;
  let count;
  while (Date.now() < deadline) {
    await page.fill('#filter', 'py');
    count = await page.textContent('#shown-count');
    if (count === '1') break;
    await page.waitForTimeout(200);
  }
  assert.equal(count, '1', 'the filter did not react: the page never hydrated');
  assert.deepEqual(await page.$$eval('tbody tr', (rows) => rows.map((r) => r.dataset.image)), ['python3']);
  await page.fill('#filter', '');
  await page.waitForFunction(() => document.querySelector('#shown-count').textContent === '5');
  const shot = path.join(process.env.CARGO_TARGET_DIR || path.join(root, 'target'), 'images-page.png');
  await page.screenshot({ path: shot, fullPage: true });
  assert.deepEqual(errors, []);
});
