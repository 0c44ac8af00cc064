// The Pins page: counts against the corpus oracle, filtering by the badges
// and the search (kept in the URL), the patch applied with `git apply`
// leaving the lint clean, and the pull script passing shellcheck.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { startServer, launch, watchedPage, hydrated, shot, corpus, tempDir, dockyard } from './server.mjs';

const STALE = 'abbe7bf2cbea31a7f8fff653ec97c442ce7aa39b';
const DROPPED = '63c70cb5005908cb544291824fe961c0d82e5db5';
const oracle = (commit) => JSON.parse(fs.readFileSync(path.join(corpus, 'expected', `${commit}.json`), 'utf8'));
const snapshot = (commit) => path.join(corpus, 'integration-config-history', commit);

/** A copy of a snapshot in a git repository of its own, committed, and its `git`. */
function committedCopy(commit, prefix) {
  const repo = tempDir(prefix);
  fs.cpSync(snapshot(commit), repo, { recursive: true });
  const git = (...args) => execFileSync('git', args, { cwd: repo, encoding: 'utf8' });
  git('init', '-q');
  git('-c', 'user.name=t', '-c', 'user.email=t@example.org', 'add', '-A');
  git('-c', 'user.name=t', '-c', 'user.email=t@example.org', 'commit', '-qm', 'snapshot');
  return { repo, git };
}

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

test('overview and pins counts of the stale snapshot are the oracle\'s', async () => {
  const expected = oracle(STALE).pins.filter((p) => p.status === 'stale');
  const pairs = new Set(expected.map((p) => `${p.image}:${p.version}`));
  const server = await startServer(['--repo', snapshot(STALE)]);
  try {
    const overview = await (await fetch(server.url + '/api/v1/overview')).json();
    assert.equal(overview.stale, expected.length);
    assert.equal(overview.images, Object.keys(oracle(STALE).catalog).length);

    const page = await watchedPage(browser, { viewport: { width: 1280, height: 800 } });
    await page.goto(server.url + '/');
    assert.equal(await page.textContent('#count-stale'), String(expected.length));
    await page.goto(server.url + '/pins?status=stale');
    await hydrated(page);
    assert.equal(await page.textContent('#pin-count'), String(expected.length));
    assert.equal(await page.textContent('#group-count'), String(pairs.size));
    const shown = await page.$$eval('details.group', (ds) => ds.map((d) => d.dataset.image));
    assert.deepEqual(new Set(shown), new Set(expected.map((p) => p.image)));
    // Every row's file:line is relative to the repository and is an oracle pin.
    const where = await page.$$eval('details.group td.where a', (as) => as.map((a) => a.textContent));
    const oracleWhere = new Set(expected.map((p) => `${p.file}:${p.line}`));
    assert.equal(where.length, expected.length);
    for (const w of where) assert.ok(oracleWhere.has(w.replace(/:\d+$/, '')) || oracleWhere.has(w), w);
    // The warnings are listed, each with its place.
    const report = await (await fetch(server.url + '/api/v1/pins')).json();
    assert.ok(report.warnings.length > 0);
    assert.match(await page.textContent('#warnings summary'), new RegExp(`^${report.warnings.length} warnings`));
    assert.equal(await page.locator('#warnings li').count(), report.warnings.length);
        await shot(page, 'wide-pins-stale-corpus');
    assert.deepEqual(page.errors, []);
    await page.context().close();
  } finally {
    server.stop();
  }
});

test('the dangling pin of the dropped image is found and filtered by its badge', async () => {
  const dangling = oracle(DROPPED).pins.filter((p) => p.status === 'not-in-catalog');
  assert.equal(dangling.length, 1);
  const server = await startServer(['--repo', snapshot(DROPPED)]);
  try {
    const overview = await (await fetch(server.url + '/api/v1/overview')).json();
    assert.equal(overview.dangling, 1);
    const page = await watchedPage(browser, { viewport: { width: 1280, height: 800 } });
    await page.goto(server.url + '/pins?status=all');
    await hydrated(page);
    const all = Number(await page.textContent('#pin-count'));
    assert.ok(all >= oracle(DROPPED).pins.length, `${all} pins shown`);
    await page.evaluate(() => { window.__sameDocument = true; });
    await page.click('a.chip[data-status="not-in-catalog"]');
    await page.waitForFunction(() => document.querySelector('#pin-count')?.textContent === '1');
    assert.equal(await page.evaluate(() => window.__sameDocument), true, 'the filter reloaded the page');
    assert.match(page.url(), /status=not-in-catalog/);
    // Only the chosen chip is the current one; the dangling card's filter has its chip.
    assert.deepEqual(await page.$$eval('a.chip[aria-current]', (as) => as.map((a) => a.dataset.status)), ['not-in-catalog']);
    assert.equal(await page.locator('a.chip[data-status="dangling"]').count(), 1);
    assert.deepEqual(await page.$$eval('details.group', (ds) => ds.map((d) => d.dataset.image)), [dangling[0].image]);
    // It says what to do, in one line.
    await page.click('details.group summary');
    assert.match(await page.textContent('details.group .advice'), /^no image \S+ in the catalog/);
    // The search narrows and lands in the URL; a reload keeps both.
    await page.click('a.chip[href^="/pins?status=all"]');
    await page.fill('#pin-search', 'oojs');
    await page.waitForURL(/q=oojs/);
    await page.reload();
    await hydrated(page);
    const files = await page.$$eval('details.group td.where a', (as) => as.map((a) => a.textContent));
    assert.ok(files.length > 0 && files.every((f) => f.includes('oojs')), files.join(' '));
    assert.deepEqual(page.errors, []);
    await page.context().close();
  } finally {
    server.stop();
  }
});

test('the patch downloaded from the Pins page applies with git apply and leaves no stale pin', async () => {
  const { repo, git } = committedCopy(STALE, 'dy-patch-');
  const server = await startServer(['--repo', repo]);
  try {
    const context = await browser.newContext({ acceptDownloads: true });
    const page = await context.newPage();
    await page.goto(server.url + '/pins');
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#download-patch')]);
    const patch = path.join(tempDir(), 'stale.patch');
    await download.saveAs(patch);
    git('apply', '--check', patch);
    git('apply', patch);
    const changed = git('diff', '--name-only').trim().split('\n');
    assert.ok(changed.length > 1 && changed.every((f) => f.startsWith('jjb/')), changed.join(' '));
    const lint = dockyard(['lint', '--repo', repo, '--format', 'json']);
    const report = JSON.parse(lint.stdout);
    assert.equal(report.pins.filter((p) => p.status === 'stale').length, 0);
    assert.equal(report.pins.filter((p) => p.status === 'ok').length, oracle(STALE).pins.length);
    await context.close();
  } finally {
    server.stop();
  }
});

test('a stale group says what updating brings, names its jobs, copies the fix and patches only itself', async () => {
  const expected = oracle(STALE);
  const { repo, git } = committedCopy(STALE, 'dy-group-');
  const server = await startServer(['--repo', repo]);
  try {
    for (const width of [1366, 390]) {
      const page = await watchedPage(browser, { viewport: { width, height: 900 }, acceptDownloads: true });
      await page.context().grantPermissions(['clipboard-read', 'clipboard-write'], { origin: server.url });
      await page.goto(server.url + '/pins?status=stale&q=castor');
      await hydrated(page);
      assert.match(await page.textContent('#download-patch'), /^Fix all \d+ stale pins/);
      const group = page.locator('details.group[data-image="castor"]');
      await group.locator('summary').first().click();
      // What updating brings: the changelog entry above the pinned version.
      const latest = expected.catalog.castor.latest;
      await group.locator('details.changes summary').click();
      assert.equal(await group.locator('details.changes li .version').first().textContent(), latest);
      // The jobs that use the pin, as JJB names them.
      const jobs = await group.locator('ul.jobs li').allTextContents();
      assert.ok(jobs.length > 0 && jobs.every((j) => /^(job|job-template|project|job-group|builder|publisher|wrapper) /.test(j)), jobs.join(' | '));
      // The fixed reference, copied.
      const fixed = await group.locator('.fixed-ref code').first().textContent();
      assert.equal(fixed, `docker-registry.wikimedia.org/releng/castor:${latest}`);
      await group.locator('.fixed-ref button.copy').first().click();
      await page.waitForFunction(() => document.querySelector('.fixed-ref button.copy')?.textContent === 'Copied');
      assert.equal(await page.evaluate(() => navigator.clipboard.readText()), fixed);
      assert.ok(await page.evaluate(() => document.documentElement.scrollWidth) <= width, 'the page scrolls sideways');
      await shot(page, `${width === 390 ? 'narrow' : 'wide'}-pins-group-actions`);
      // The open group is in the URL: away to the image and Back, it is
      // still open (and so after a reload).
      await page.waitForURL(/[?&]open=castor%3A/);
      await group.locator('summary a.name').click();
      await page.waitForURL(/\/images\/castor$/);
      await page.goBack();
      await page.waitForSelector('details.group[data-image="castor"][open]');
      await page.reload();
      await hydrated(page);
      assert.equal(await page.locator('details.group[data-image="castor"][open]').count(), 1);
      assert.equal(await page.locator('details.group[open]').count(), 1);
      if (width === 1366) {
        // The group's own patch changes only castor's pins.
        const [download] = await Promise.all([page.waitForEvent('download'), group.locator('a[data-patch="group"]').click()]);
        const patch = path.join(tempDir(), 'castor.patch');
        await download.saveAs(patch);
        git('apply', patch);
        const report = JSON.parse(dockyard(['lint', '--repo', repo, '--format', 'json']).stdout);
        const stale = report.pins.filter((p) => p.status === 'stale');
        const was = expected.pins.filter((p) => p.status === 'stale');
        assert.equal(stale.filter((p) => p.image === 'castor').length, 0);
        assert.equal(stale.length, was.length - was.filter((p) => p.image === 'castor').length);
        git('checkout', '-q', '.');
      }
      assert.deepEqual(page.errors, []);
      await page.context().close();
    }
  } finally {
    server.stop();
  }
  // Nothing stale (the current catalog): no empty download, the button
  // says why.
  const clean = await startServer(['--repo', path.join(corpus, 'integration-config')]);
  try {
    const report = await (await fetch(clean.url + '/api/v1/pins')).json();
    assert.equal(report.pins.filter((p) => p.status === 'stale').length, 0);
    const page = await watchedPage(browser, { viewport: { width: 1366, height: 800 } });
    await page.goto(clean.url + '/pins');
    assert.equal(await page.textContent('#download-patch-none'), 'Nothing to fix');
    assert.equal(await page.locator('#download-patch').count(), 0);
    await page.context().close();
  } finally {
    clean.stop();
  }
});

test('the pull script downloads, equals the CLI\'s, and passes shellcheck', async () => {
  const server = await startServer(['--repo', 'demo']);
  try {
    const context = await browser.newContext({ acceptDownloads: true });
    const page = await context.newPage();
    await page.goto(server.url + '/pins');
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#download-script')]);
    const file = path.join(tempDir(), 'pull-images.sh');
    await download.saveAs(file);
    const script = fs.readFileSync(file, 'utf8');
    assert.equal(script, dockyard(['pull-script', '--repo', 'demo']).stdout);
    assert.match(script, /^#!\/bin\/sh|^#!\/usr\/bin\/env/);
    execFileSync('shellcheck', ['-s', 'sh', file]);
    await context.close();
  } finally {
    server.stop();
  }
});

test('unused images are listed, and the images filter is kept in the URL', async () => {
  const server = await startServer(['--repo', snapshot(DROPPED)]);
  try {
    const report = await (await fetch(server.url + '/api/v1/pins')).json();
    assert.ok(report.summary.dead_images.length > 0);
    const page = await watchedPage(browser, { viewport: { width: 390, height: 844 } });
    await page.goto(server.url + '/pins');
    await hydrated(page);
    assert.deepEqual(await page.$$eval('#unused li', (ls) => ls.map((l) => l.textContent)), report.summary.dead_images);
    await page.goto(server.url + '/images');
    await hydrated(page);
    await page.fill('#filter', 'php');
    await page.waitForURL(/\/images\?q=php/);
    await page.reload();
    await hydrated(page);
    const catalog = await (await fetch(server.url + '/api/v1/catalog')).json();
    const want = catalog.images.filter((i) => i.name.includes('php')).length;
    assert.equal(await page.textContent('#shown-count'), String(want));
    assert.equal(await page.inputValue('#filter'), 'php');
    assert.ok(await page.evaluate(() => document.documentElement.scrollWidth) <= 390, 'the page scrolls sideways');
    await shot(page, 'narrow-images-filtered');
    assert.deepEqual(page.errors, []);
    await page.context().close();
  } finally {
    server.stop();
  }
});

test('a fix applied to the files shows on the Pins page without a reload', async () => {
  const expected = oracle(STALE);
  const { repo } = committedCopy(STALE, 'dy-live-');
  const server = await startServer(['--repo', repo]);
  try {
    const page = await watchedPage(browser, { viewport: { width: 1366, height: 900 } });
    await page.goto(server.url + '/pins?status=stale');
    await hydrated(page);
    await page.evaluate(() => { window.__sameDocument = true; });
    assert.equal(Number(await page.textContent('#pin-count')), expected.pins.filter((p) => p.status === 'stale').length);
    // A maintainer fixes the pins in the files; the page follows.
    dockyard(['lint', '--repo', repo, '--fix']);
    const after = JSON.parse(dockyard(['lint', '--repo', repo, '--format', 'json']).stdout);
    const stale = after.pins.filter((p) => p.status === 'stale').length;
    if (stale === 0) {
      await page.waitForSelector('#pins-empty', { timeout: 20000 });
    } else {
      await page.waitForFunction((n) => document.querySelector('#pin-count')?.textContent === String(n), stale, { timeout: 20000 });
    }
    assert.equal(await page.evaluate(() => window.__sameDocument), true, 'the page was reloaded');
    assert.deepEqual(page.errors, []);
    await page.context().close();
  } finally {
    server.stop();
  }
});
