// Build-and-pull against a real engine and a real registry: refused
// without a login or from another site, file links that cannot leave the
// repository, a registry password that no response carries; then, logged
// in through the page, a build whose log streams into the open page.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, launch, watchedPage, hydrated, shot } from './server.mjs';
import { startDockerd, startRegistry, buildRepo } from './engine.mjs';

const TOKEN = 'e2e-token-0123456789';
const PASSWORD = 'registry-password-Zq81x';
const SECONDS = 6;
let engine, registry, server, browser, repo;

before(async () => {
  [engine, registry] = await Promise.all([startDockerd(), startRegistry()]);
  repo = buildRepo(registry.host, SECONDS);
  server = await startServer(['--repo', repo, '--registry'], {
    env: {
      DOCKER_HOST: engine.host,
      DOCKYARD_TOKEN: TOKEN,
      DOCKYARD_REGISTRY_HOST: registry.host,
      DOCKYARD_REGISTRY_USERNAME: 'ci',
      DOCKYARD_REGISTRY_PASSWORD: PASSWORD,
    },
  });
  browser = await launch();
});

after(async () => {
  await browser?.close();
  server?.stop();
  registry?.stop();
  await engine?.stop();
});

const body = JSON.stringify({ selection: { kind: 'pin-problems' }, push: true, pull_pins: true });
const post = (path, headers = {}) =>
  fetch(server.url + path, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });

test('starting anything needs credentials and the same site', async () => {
  // A plan is a preview: anyone on the site may ask for one.
  assert.equal((await post('/api/v1/plan')).status, 200, 'a plan preview without credentials');
  assert.equal((await post('/api/v1/plan', { origin: 'https://evil.example' })).status, 403, 'a plan from another site');
  for (const p of ['/api/v1/builds', '/api/v1/pull']) {
    assert.equal((await post(p)).status, 401, `${p} without credentials`);
    assert.equal((await post(p, { authorization: 'Bearer wrong-token-123' })).status, 401, `${p} with a wrong token`);
    const evil = { authorization: `Bearer ${TOKEN}`, origin: 'https://evil.example' };
    assert.equal((await post(p, evil)).status, 403, `${p} from another site`);
    assert.equal((await post(p, { authorization: `Bearer ${TOKEN}`, 'sec-fetch-site': 'cross-site' })).status, 403);
  }
  assert.equal((await fetch(server.url + '/api/v1/builds', { method: 'PUT', body })).status, 405);
  // Reads stay public, and nothing was started.
  const runs = await (await fetch(server.url + '/api/v1/builds')).json();
  assert.deepEqual(runs.runs, []);
  // With the token the plan is the CLI's dry run: base and app, parents first.
  const plan = await (await post('/api/v1/plan', { authorization: `Bearer ${TOKEN}` })).json();
  assert.deepEqual(plan.items.map((i) => [i.name, i.action]), [['base', 'build'], ['app', 'build']]);
});

test('file links cannot leave the repository', async () => {
  const ok = await fetch(server.url + '/api/v1/file?path=jjb/jobs.yaml');
  assert.equal(ok.status, 200);
  for (const p of ['../../../../etc/passwd', '/etc/passwd', 'jjb/../../etc/passwd', 'jjb/%2e%2e/%2e%2e/etc/passwd',
    'dockerfiles/base/../../../etc/hostname', '..', '', 'jjb/../dockerfiles/../../x']) {
    for (const route of ['/api/v1/file?path=', '/api/v1/file/view?path=']) {
      const res = await fetch(server.url + route + p);
      assert.ok(res.status === 404 || res.status === 400, `${route}${p}: ${res.status}`);
      assert.doesNotMatch(await res.text(), /root:x:0:0/);
    }
  }
  for (const p of ['/pkg/../../../../etc/passwd', '/pkg/%2e%2e/%2e%2e/%2e%2e/etc/passwd', '/files?path=../../etc/passwd']) {
    const text = await (await fetch(server.url + p)).text();
    assert.doesNotMatch(text, /root:x:0:0/, p);
  }
});

test('the registry password appears in no page and no API response', async () => {
  const paths = ['/', '/pins', '/images', '/images/app', '/graph', '/builds', '/build', '/hosts', '/files?path=jjb/jobs.yaml',
    '/api/v1/overview', '/api/v1/pins', '/api/v1/catalog', '/api/v1/registry', '/api/v1/graph', '/api/v1/graph.dot',
    '/api/v1/graph.svg', '/api/v1/images/app', '/api/v1/pull-script', '/api/v1/hosts', '/api/v1/session',
    '/api/v1/builds', '/api/v1/pins/patch', '/api/v1/impact', '/api/v1/nope'];
  for (const p of paths) {
    const res = await fetch(server.url + p);
    const text = await res.text();
    assert.ok(!text.includes(PASSWORD), `${p} shows the registry password`);
    assert.ok(!text.includes(TOKEN), `${p} shows the access token`);
    assert.ok(!text.includes(Buffer.from(`ci:${PASSWORD}`).toString('base64')), `${p} shows the registry credentials`);
  }
});

test('after login a build runs on the engine and its log appears live', async () => {
  const page = await watchedPage(browser, { viewport: { width: 1280, height: 800 } });
  await page.goto(server.url + '/build');
  await hydrated(page);
  await page.evaluate(() => { window.__sameDocument = true; });
  // What blocks Start is said before anyone clicks: the login is there,
  // Start is off with its reason, and the header says who you are.
  await page.waitForSelector('form.login #token');
  assert.equal(await page.$eval('#start', (b) => b.disabled), true);
  assert.match(await page.textContent('#start-blocked'), /log in/i);
  assert.equal(await page.textContent('header #session'), 'Log in');
  await shot(page, 'wide-build-refused');
  await page.fill('#token', 'not-the-token');
  await page.click('#login');
  await page.waitForFunction(() => /wrong token/i.test(document.querySelector('#build-message')?.textContent ?? ''));
  await page.fill('#token', TOKEN);
  await page.click('#login');
  await page.waitForFunction(() => /logged in/i.test(document.querySelector('#build-message')?.textContent ?? ''));
  await page.waitForFunction(() => document.querySelector('header #session')?.textContent === 'logged in');
  assert.equal(await page.$eval('#start', (b) => b.disabled), false);
  assert.equal(await page.locator('#start-blocked').count(), 0);
  // The session is an HttpOnly cookie: the page's script cannot read it.
  assert.equal(await page.evaluate(() => document.cookie), '');
  const cookies = await page.context().cookies();
  const session = cookies.find((c) => c.name === 'dockyard_session');
  assert.ok(session && session.httpOnly && session.secure && session.sameSite === 'Strict', JSON.stringify(cookies));

  await page.click('#show-plan');
  await page.waitForSelector('table.plan tr[data-image="app"]');
  await page.click('#start');
  await page.waitForURL(/\/builds\/\d+$/);
  // Live: the first tick arrives while the run is still running.
  await page.waitForFunction(() => /tick 1/.test(document.querySelector('#log')?.textContent ?? ''), null, { timeout: 60000 });
  assert.equal(await page.$eval('h1 .badge', (b) => b.className), 'badge r-running');
  await shot(page, 'wide-build-running');
  await page.waitForSelector('h1 .badge.r-succeeded', { timeout: 120000 });
  const log = await page.textContent('#log');
  assert.match(log, new RegExp(`tick ${SECONDS}`));
  assert.match(log, /pull|present/i, 'the pull of the pinned images is in the log');
  assert.equal(await page.evaluate(() => window.__sameDocument), true, 'the page was reloaded');
  assert.deepEqual(await page.$$eval('tr[data-image]', (rs) => rs.map((r) => [r.dataset.image, r.dataset.state])),
    [['base', 'published'], ['app', 'published']]);
  // Where the run came from, and what it made: the image ids and digests.
  assert.match(await page.textContent('#run-source'), /dashboard build/);
  const made = await page.$$eval('tr[data-image] td.made', (tds) => tds.map((t) => t.textContent));
  assert.ok(made.every((m) => /built sha256:[0-9a-f]{12}.*pushed sha256:[0-9a-f]{12}/.test(m)), made.join(' | '));
  await shot(page, 'wide-build-done');
  // The log in sections per image, each line numbered, timed and linkable.
  const sections = await page.$$eval('#log details.section', (ds) => ds.map((d) => d.dataset.image));
  assert.ok(sections.includes('app'), sections.join(' '));
  const runId = page.url().match(/\/builds\/(\d+)$/)[1];
  const apiRun = await (await fetch(`${server.url}/api/v1/builds/${runId}`)).json();
  assert.equal(await page.locator('#log ol.lines li').count(), apiRun.logs.length);
  const first = apiRun.logs[0];
  await page.click(`#log li#L${first.seq} a.n`);
  assert.match(page.url(), new RegExp(`#L${first.seq}$`));
  assert.match(await page.textContent(`#log li#L${first.seq} time`), /^\d\d:\d\d:\d\d$/);
  // The raw log: every line, downloadable.
  const raw = await (await fetch(`${server.url}/api/v1/builds/${runId}/log.txt`)).text();
  assert.equal(raw.trimEnd().split('\n').length, apiRun.logs.length);
  assert.match(raw, new RegExp(`tick ${SECONDS}`));
  assert.equal(await page.getAttribute('#raw-log', 'href'), `/api/v1/builds/${runId}/log.txt`);
  // Re-run: the same selection, a new run.
  await page.click('#rerun');
  await page.waitForURL((u) => /\/builds\/\d+$/.test(u.pathname) && !u.pathname.endsWith(`/${runId}`));
  await page.waitForSelector('h1 .badge.r-succeeded, h1 .badge.r-failed', { timeout: 120000 });
  await shot(page, 'wide-build-rerun');
  // The browser logs the one refusal above (the wrong token) as a failed
  // load; nothing else went wrong.
  const refusals = page.errors.filter((e) => /status of 401/.test(e));
  assert.equal(refusals.length, 1, page.errors.join('\n'));
  assert.deepEqual(page.errors.filter((e) => !/status of 401/.test(e)), []);

  // The real engine has the image and the real registry the tag.
  engine.docker(['image', 'inspect', `${registry.host}/e2e/app:2.0`]);
  const tags = await (await fetch(`http://${registry.host}/v2/e2e/app/tags/list`)).json();
  assert.deepEqual(tags.tags.sort(), ['2.0', 'latest'], 'the version and latest, as docker-pkg publishes');
  // The history and the logs are in the store, served to anyone.
  const runs = await (await fetch(server.url + '/api/v1/builds')).json();
  assert.equal(runs.runs.length, 2, 'the run and its re-run');
  assert.ok(runs.runs.every((r) => r.state === 'succeeded'), JSON.stringify(runs.runs));
  assert.ok(runs.runs.every((r) => /dashboard/.test(r.trigger)));
  await page.context().close();
});

test('a run with nothing to do says why', async () => {
  const again = JSON.stringify({ selection: { kind: 'image', name: 'app' }, push: true, pull_pins: false });
  const res = await fetch(server.url + '/api/v1/builds', {
    method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` }, body: again,
  });
  assert.equal(res.status, 202, await res.clone().text());
  const { run } = await res.json();
  const page = await watchedPage(browser, { viewport: { width: 390, height: 844 } });
  await page.goto(server.url + `/builds/${run}`);
  await hydrated(page);
  assert.match(await page.textContent('#nothing-to-do'), /Nothing to do/);
  await shot(page, 'narrow-run-nothing-to-do');
  assert.deepEqual(page.errors, []);
  await page.context().close();
});

test('the hosts page shows a pinned image missing, and pulls it after login', async () => {
  const pinned = `${registry.host}/e2e/app:2.0`;
  // The build above left the pinned image on the engine: take the tag away.
  engine.docker(['rmi', pinned]);
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await context.newPage();
  await page.goto(server.url + '/hosts');
  await hydrated(page);
  // Server-rendered: the matrix is in the page with the engine's column.
  const cell = () => page.$eval('table.matrix tbody tr td:nth-child(2)', (td) => td.className);
  assert.equal(await page.textContent('table.matrix tbody tr td.name'), pinned);
  assert.equal(await cell(), 'p-missing');
  await shot(page, 'wide-hosts-missing');
  // Without a login the pull is off, and says why before a click.
  assert.equal(await page.$eval('#pull-missing', (b) => b.disabled), true);
  assert.match(await page.textContent('#pull-blocked'), /log in/i);
  assert.throws(() => engine.docker(['image', 'inspect', pinned]), 'nothing was pulled');
  // Log in right here, then pull.
  await page.fill('#token', TOKEN);
  await page.click('#login');
  await page.waitForFunction(() => /logged in/i.test(document.querySelector('#pull-message')?.textContent ?? ''));
  await page.waitForFunction(() => document.querySelector('#pull-missing')?.disabled === false);
  await page.click('#pull-missing');
  await page.waitForFunction(() => /\d+ pulls, 0 failed/.test(document.querySelector('.banner.info')?.textContent ?? ''),
    null, { timeout: 60000 });
  // The real engine has it again, and the matrix says so.
  engine.docker(['image', 'inspect', pinned]);
  await page.reload();
  await hydrated(page);
  assert.equal(await cell(), 'p-present');
  await shot(page, 'wide-hosts-pulled');
  // The header logs out: the pull is off again, and says why.
  await page.click('header #logout');
  await page.waitForFunction(() => document.querySelector('header #session')?.textContent === 'Log in');
  assert.equal(await page.$eval('#pull-missing', (b) => b.disabled), true);
  // The pull is a run in the history: the newest run, a pull from the web, with
  // one item per image and host, pulled, linking to the image.
  await page.goto(server.url + '/builds');
  await hydrated(page);
  const newest = page.locator('table.runs tbody tr').first();
  assert.match(await newest.locator('td').nth(2).textContent(), /^web:pull:/);
  await newest.locator('a').first().click();
  await page.waitForSelector('table.runimages tbody tr');
  const item = page.locator('table.runimages tbody tr[data-image^="app:2.0@"]');
  assert.equal(await item.count(), 1, 'one item for the one pinned image on the one engine');
  assert.equal(await item.getAttribute('data-state'), 'pulled');
  assert.equal(await item.locator('a').getAttribute('href'), '/images/app');
  assert.match(await item.locator('td.num').textContent(), /\d/, 'how long the pull took');
  await shot(page, 'wide-run-pull');
  await context.close();
});

test('a server without an access token says so, and offers no login that cannot work', async () => {
  const readOnly = await startServer(['--repo', repo], { env: { DOCKER_HOST: engine.host } });
  try {
    for (const width of [1366, 390]) {
      const page = await watchedPage(browser, { viewport: { width, height: 800 } });
      await page.goto(readOnly.url + '/build');
      await hydrated(page);
      assert.equal(await page.textContent('header #session'), 'read-only');
      assert.equal(await page.locator('form.login').count(), 0);
      assert.equal(await page.$eval('#start', (b) => b.disabled), true);
      assert.match(await page.textContent('#start-blocked'), /access token/);
      // The plan still shows: it needs no login.
      await page.check('input[name="kind"][value="image"]');
      await page.click('#show-plan');
      await page.waitForSelector('table.plan');
      assert.ok(await page.evaluate(() => document.documentElement.scrollWidth) <= width, 'the page scrolls sideways');
      await shot(page, `${width === 390 ? 'narrow' : 'wide'}-build-read-only`);
      await page.goto(readOnly.url + '/hosts');
      await hydrated(page);
      assert.equal(await page.$eval('#pull-missing', (b) => b.disabled), true);
      assert.match(await page.textContent('#pull-blocked'), /access token/);
      assert.deepEqual(page.errors, []);
      await page.context().close();
    }
  } finally {
    readOnly.stop();
  }
});

test('without an engine the plan preview comes from the registry, and says so', async () => {
  const noEngine = await startServer(['--repo', repo, '--registry'], {
    env: {
      DOCKER_HOST: 'unix:///nonexistent/docker.sock',
      DOCKYARD_TOKEN: TOKEN,
      DOCKYARD_REGISTRY_HOST: registry.host,
      DOCKYARD_REGISTRY_USERNAME: 'ci',
      DOCKYARD_REGISTRY_PASSWORD: PASSWORD,
    },
  });
  try {
    // The oracle: the registry's own tag lists (the build above pushed them).
    const held = {};
    for (const name of ['base', 'app']) {
      held[name] = (await (await fetch(`http://${registry.host}/v2/e2e/${name}/tags/list`)).json()).tags ?? [];
    }
    const res = await fetch(noEngine.url + '/api/v1/plan', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ selection: { kind: 'subtree', name: 'base' }, push: true, pull_pins: false }),
    });
    assert.equal(res.status, 200, await res.clone().text());
    const plan = await res.json();
    const wanted = { base: '1.0', app: '2.0' };
    for (const item of plan.items) {
      const published = held[item.name].includes(wanted[item.name]);
      assert.equal(item.action, published ? 'present' : 'build', `${item.name}: ${item.reason}`);
      if (!published) assert.match(item.reason, /engine unknown/);
    }
    assert.deepEqual(plan.items.map((i) => i.name), ['base', 'app']);
    assert.match(plan.notes[0], /local: unreachable.*registry's knowledge alone/);
    // The session learns that no engine answers (asked in the background,
    // never waited for), and Start says so before anyone clicks.
    let session;
    for (let i = 0; i < 50; i++) {
      session = await (await fetch(noEngine.url + '/api/v1/session')).json();
      if (session.engines_up === 0) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.deepEqual([session.engines, session.engines_up], [1, 0], JSON.stringify(session));
    for (const width of [1366, 390]) {
      const page = await watchedPage(browser, { viewport: { width, height: 800 } });
      await page.goto(noEngine.url + '/build');
      await hydrated(page);
      await page.check('input[name="kind"][value="subtree"]');
      await page.click('#show-plan');
      await page.waitForSelector('table.plan');
      assert.match(await page.textContent('.plan-note'), /registry's knowledge alone/);
      assert.equal(await page.$eval('#start', (b) => b.disabled), true);
      assert.match(await page.textContent('#start-blocked'), /No engine answers/);
      assert.ok(await page.evaluate(() => document.documentElement.scrollWidth) <= width, 'the page scrolls sideways');
      await shot(page, `${width === 390 ? 'narrow' : 'wide'}-build-no-engine`);
      assert.deepEqual(page.errors, []);
      await page.context().close();
    }
  } finally {
    noEngine.stop();
  }
});
