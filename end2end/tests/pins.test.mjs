// The Pins page: the lint of demo/jjb, reached by client-side navigation,
// filtered by status in the browser.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { useServerAndBrowser } from './server.mjs';

const ctx = useServerAndBrowser(['--repo', 'demo']);

test('the API and the server-rendered page carry the lint', async () => {
  const api = await (await fetch(ctx.server.url + '/api/v1/pins')).json();
  const statuses = api.pins.map((p) => `${p.image}:${p.version ?? ''}=${p.status}`).sort();
  assert.deepEqual(statuses, [
    'ci-base:=untagged',
    'node16:16.20.2-s4=not-in-catalog',
    'node20:20.18.0-s1=ok',
    'python3:3.11.2-s1=stale',
    'shellcheck:0.8.0=unknown-version',
    'tox:4.11.0-s3=ok',
  ]);
  const html = await (await fetch(ctx.server.url + '/pins')).text();
  assert.match(html, /data-status="stale"/);
  assert.doesNotMatch(html, /data-status="ok"/, 'problems only by default');
});

test('navigating and filtering happen in the browser', async () => {
  const page = await ctx.browser.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.goto(ctx.server.url + '/');
  // Hydrated (the app marks the body once its effects run), then one click:
  // a full page load would drop the marker set in this document.
  await page.waitForSelector('body[data-hydrated="true"]', { timeout: 15000 });
  await page.evaluate(() => { window.__sameDocument = true; });
  await page.click('nav a[href="/pins"]');
  await page.waitForSelector('#pin-count');
  assert.equal(await page.evaluate(() => window.__sameDocument), true, 'a full page load: client routing is broken');
  assert.equal(await page.textContent('#pin-count'), '4');
  await page.selectOption('#status', 'all');
  await page.waitForFunction(() => document.querySelector('#pin-count').textContent === '6');
  await page.selectOption('#status', 'stale');
  await page.waitForFunction(() => document.querySelector('#pin-count').textContent === '1');
  assert.deepEqual(await page.$$eval('tbody tr', (rows) => rows.map((r) => r.dataset.image)), ['python3']);
  assert.match(await page.textContent('tbody tr'), /stale \(older\)/);
  assert.deepEqual(errors, []);
});
