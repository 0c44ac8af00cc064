// The lifecycle on the dashboard, against a real engine and a real
// registry with deletion on: the overview says what a new agent downloads
// and what cleanup frees, the hosts page what each engine still lacks, the
// cleanup page the plan (the CLI's), and deleting works after login and is
// a run. Sizes are checked against the registry's own manifests.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { startServer, launch, watchedPage, hydrated, shot, dockyard, tempDir } from './server.mjs';
import { startDockerd, startRegistry, buildRepo } from './engine.mjs';

const TOKEN = 'e2e-token-lifecycle-42';
let engine, registry, server, browser, repo, store;

const changelog = (name, versions) => versions.map((v) =>
  `${name} (${v}) wikimedia; urgency=medium\n\n  * Test.\n\n -- T <t@example.org>  Mon, 01 Jan 2024 00:00:00 +0000\n`).join('\n');

before(async () => {
  [engine, registry] = await Promise.all([startDockerd(), startRegistry({ deletion: true })]);
  repo = buildRepo(registry.host, 0);
  store = path.join(tempDir('dy-life-'), 'store.db');
  const env = { ...process.env, DOCKER_HOST: engine.host, DOCKYARD_STORE: store };
  // Three versions of app, each built and published; jobs pin 2.0.
  const versions = [];
  for (const v of ['2.0', '2.1', '2.2']) {
    versions.unshift(v);
    fs.writeFileSync(path.join(repo, 'dockerfiles', 'app', 'changelog'), changelog('app', versions));
    fs.writeFileSync(path.join(repo, 'dockerfiles', 'app', 'Dockerfile.template'),
      `FROM {{ "base" | image_tag }}\nRUN echo ${v} > /version\n`);
    const r = dockyard(['build', '--repo', repo, '--push', '--max-age', '0'], { env });
    assert.equal(r.status, 0, r.stderr);
  }
  server = await startServer(['--repo', repo, '--registry'], {
    env: { DOCKER_HOST: engine.host, DOCKYARD_TOKEN: TOKEN, DOCKYARD_STORE: store },
  });
  browser = await launch();
  // The server reads the registry after it starts: wait for the figures.
  const deadline = Date.now() + 60000;
  for (;;) {
    const o = await (await fetch(server.url + '/api/v1/overview')).json();
    if (o.fresh_agent_bytes != null && o.reclaimable_bytes != null) break;
    if (Date.now() > deadline) throw new Error('the server never computed the lifecycle figures');
    await new Promise((r) => setTimeout(r, 300));
  }
});

after(async () => {
  await browser?.close();
  server?.stop();
  registry?.stop();
  await engine?.stop();
});

/** The registry's own blobs of a tag: config and layers, compressed sizes. */
async function blobs(repoName, tag) {
  const res = await fetch(`http://${registry.host}/v2/${repoName}/manifests/${tag}`, {
    headers: { accept: 'application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.manifest.v1+json' },
  });
  const m = await res.json();
  return [m.config, ...m.layers].map((b) => [b.digest, b.size]);
}

const human = (n) => {
  if (n < 1000) return `${n} B`;
  const units = ['kB', 'MB', 'GB', 'TB', 'PB'];
  let unit = 0; let scale = 1000;
  while (unit + 1 < units.length && n >= scale * 1000 - scale / 20) { scale *= 1000; unit += 1; }
  const tenths = Math.floor((n * 10 + scale / 2) / scale);
  return `${Math.floor(tenths / 10)}.${tenths % 10} ${units[unit]}`;
};

for (const [tag, viewport] of [['wide', { width: 1366, height: 900 }], ['narrow', { width: 390, height: 844 }]]) {
  test(`${tag}: the overview and the hosts page say what a new agent downloads`, async () => {
    const pinned = await blobs('e2e/app', '2.0');
    const fresh = pinned.reduce((a, [, s]) => a + s, 0);
    const page = await watchedPage(browser, { viewport });
    await page.goto(server.url + '/');
    await hydrated(page);
    assert.equal(await page.textContent('#fresh-agent strong'), human(fresh));
    assert.match(await page.textContent('#reclaimable'), /Cleanup would free \d/);
    await shot(page, `${tag}-overview-lifecycle`);
    await page.goto(server.url + '/hosts');
    await hydrated(page);
    // The engine built everything: it lacks nothing.
    const row = await page.$$eval('#still-to-download td', (tds) => tds.map((t) => t.textContent));
    assert.deepEqual(row, ['0 B']);
    assert.match(await page.textContent('#still-to-download th'), new RegExp(human(fresh).replace('.', '\\.')));
    await shot(page, `${tag}-hosts-sizes`);
    assert.deepEqual(page.errors, []);
    await page.context().close();
  });
}

test('/metrics exports the lifecycle figures the overview shows', async () => {
  const o = await (await fetch(server.url + '/api/v1/overview')).json();
  const m = await (await fetch(server.url + '/metrics')).text();
  const value = (name) => Number(m.match(new RegExp(`^${name} (\\d+)$`, 'm'))?.[1]);
  assert.equal(value('dockyard_fresh_agent_bytes'), o.fresh_agent_bytes);
  assert.equal(value('dockyard_cleanup_reclaimable_bytes'), o.reclaimable_bytes);
  assert.equal(value('dockyard_retire_candidates'), 0);
  const pinned = await blobs('e2e/app', '2.0');
  assert.equal(o.fresh_agent_bytes, pinned.reduce((a, [, n]) => a + n, 0));
});

test('an image page shows the size of each published version', async () => {
  const page = await watchedPage(browser, { viewport: { width: 1366, height: 900 } });
  await page.goto(server.url + '/images/app');
  await hydrated(page);
  const sizes = await page.$$eval('ol.changelog li', (lis) =>
    lis.map((li) => [li.querySelector('.version').textContent, li.querySelector('.size')?.textContent.trim() ?? null]));
  const want = [];
  for (const v of ['2.2', '2.1', '2.0']) {
    want.push([v, human((await blobs('e2e/app', v)).reduce((a, [, n]) => a + n, 0))]);
  }
  assert.deepEqual(sizes, want);
  await shot(page, 'wide-image-sizes');
  assert.deepEqual(page.errors, []);
  await page.context().close();
});

test('the cleanup page shows the CLI plan, and deletes after login', async () => {
  const cli = dockyard(['cleanup', '--repo', repo, '--store', store, '--format', 'json'],
    { env: { ...process.env, DOCKER_HOST: engine.host } });
  const plan = JSON.parse(cli.stdout);
  // The default rules keep the 3 newest and anything younger than 30 days:
  // everything here is young. Ask the page with the rules that delete.
  assert.equal(plan.delete.length, 0, cli.stdout);
  for (const [tag, viewport] of [['wide', { width: 1366, height: 900 }], ['narrow', { width: 390, height: 844 }]]) {
    const page = await watchedPage(browser, { viewport });
    await page.goto(server.url + '/cleanup');
    await hydrated(page);
    assert.match(await page.textContent('#cleanup-summary'), /Nothing to delete/);
    await shot(page, `${tag}-cleanup-nothing`);
    await page.context().close();
  }
  // With --keep-last 1 --min-age 0 (the API's query), 2.1 goes: 2.2 is
  // current, 2.0 pinned.
  const res = await fetch(server.url + '/api/v1/cleanup?keep_last=1&min_age=0');
  const strict = await res.json();
  assert.equal(res.status, 200, JSON.stringify(strict));
  assert.deepEqual(strict.delete.map((d) => `${d.image}:${d.tag}`), ['app:2.1']);
  const only21 = (await blobs('e2e/app', '2.1')).filter(([d]) => !JSON.stringify(strict.keep).includes(d));
  assert.ok(strict.reclaimable_bytes > 0);
  assert.ok(only21.length > 0);
  const cliStrict = JSON.parse(dockyard(['cleanup', '--repo', repo, '--store', store, '--keep-last', '1',
    '--min-age', '0', '--format', 'json']).stdout);
  assert.deepEqual(cliStrict.delete, strict.delete, 'the page and the CLI agree');
  // Deleting needs a login: refused without one; on the page, the button
  // asks for it, then deletes and opens the run.
  const refused = await fetch(server.url + '/api/v1/cleanup?keep_last=1&min_age=0', { method: 'POST' });
  assert.equal(refused.status, 401);
  for (const [tag, viewport] of [['narrow', { width: 390, height: 844 }], ['wide', { width: 1366, height: 900 }]]) {
    const p = await watchedPage(browser, { viewport });
    await p.goto(server.url + '/cleanup?keep_last=1&min_age=0');
    await hydrated(p);
    assert.deepEqual(await p.$$eval('#cleanup-delete tr[data-tag]', (rs) => rs.map((r) => r.dataset.tag)), ['app:2.1']);
    assert.match(await p.textContent('#cleanup-summary'), new RegExp(`freeing ${human(strict.reclaimable_bytes).replace('.', '\\.')}`));
    await shot(p, `${tag}-cleanup-plan`);
    await p.context().close();
  }
  const page = await watchedPage(browser, { viewport: { width: 1366, height: 900 } });
  await page.goto(server.url + '/cleanup?keep_last=1&min_age=0');
  await hydrated(page);
  await page.click('#cleanup-delete-button');
  await page.waitForSelector('form.login #token');
  await page.fill('#token', TOKEN);
  await page.click('#login');
  await page.waitForFunction(() => /logged in/i.test(document.querySelector('#cleanup-message')?.textContent ?? ''));
  await page.click('#cleanup-delete-button');
  await page.waitForURL(/\/builds\/\d+$/);
  await page.waitForSelector('tr[data-image]');
  const items = await page.$$eval('tr[data-image]', (rs) => rs.map((r) => [r.dataset.image, r.dataset.state]));
  assert.deepEqual(items, [['app:2.1', 'deleted']]);
  await shot(page, 'wide-cleanup-run');
  const tags = await (await fetch(`http://${registry.host}/v2/e2e/app/tags/list`)).json();
  assert.deepEqual(tags.tags.sort(), ['2.0', '2.2', 'latest']);
  // The one refusal (the delete before login) is the only error.
  assert.deepEqual(page.errors.filter((e) => !/status of 401/.test(e)), []);
  await page.context().close();
});
