// Every page of the dashboard on the bundled demo (seeded store, no engine,
// no registry): its data is in the server-rendered HTML, it hydrates
// without a script error, it fits a narrow window, keyboard focus is
// visible, and a screenshot of it wide and narrow is saved as an artefact.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { useServerAndBrowser, watchedPage, hydrated, shot, startServer, corpus, dockyard } from './server.mjs';

const ctx = useServerAndBrowser(['--repo', 'demo', '--registry', '--offline'], { seed: true });

// Path, then what its server-rendered HTML must hold (no script run).
const pages = [
  ['/', [/id="count-stale"[^>]*>1</, /id="count-dangling"[^>]*>2</, /not connected/, /#3/,
    /<time title="\d{4}-\d\d-\d\d \d\d:\d\d UTC">\d+ (s|min|h|days?) ago/]],
  ['/pins', [/data-status="stale"/, /data-image="python3"/, /1 versions?, \d+ days behind/]],
  ['/images', [/data-image="tox"/, /data-image="shellcheck"/]],
  ['/images/python3', [/3\.11\.2-s2/, /FROM registry\.example\.org\/demo\/ci-base:1\.2\.0-s1/, /jjb\/jobs\.yaml:16/]],
  ['/graph', [/<g data-image="ci-base"[^>]*class="node/, /data-status="stale-pins"/, /data-status="failed"/]],
  ['/builds', [/href="\/builds\/2"/, /failed/, /<time title="\d{4}-\d\d-\d\d \d\d:\d\d UTC">\d+ (s|min|h|days?) ago/]],
  ['/builds/2', [/returned a non-zero code: 100/, /apt-get install -y shellcheck/]],
  ['/build', [/What to build/, /<option value="tox"/]],
  ['/hosts', [/not connected|No Docker engine|no engine/i]],
  ['/cleanup', [/Unused images/, /id="cleanup-summary"/]],
];

test('every page carries its data in the server-rendered HTML', async () => {
  for (const [p, patterns] of pages) {
    const res = await fetch(ctx.server.url + p);
    assert.equal(res.status, 200, p);
    const html = await res.text();
    assert.doesNotMatch(html, /Loading…/, `${p} waits for a script`);
    for (const re of patterns) assert.match(html, re, `${p} lacks ${re}`);
  }
  const missing = await fetch(ctx.server.url + '/no/such/page');
  assert.equal(missing.status, 404);
  assert.match(await missing.text(), /Nothing here/);
});

for (const [tag, viewport] of [['wide', { width: 1366, height: 900 }], ['narrow', { width: 390, height: 844 }]]) {
  test(`every page hydrates and fits, ${tag}`, async () => {
    const page = await watchedPage(ctx.browser, { viewport });
    for (const [p] of pages) {
      await page.goto(ctx.server.url + p);
      await hydrated(page);
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      assert.ok(overflow <= 1, `${p} scrolls sideways by ${overflow}px at ${viewport.width}px`);
      await shot(page, `${tag}${p === '/' ? '-overview' : p.replaceAll('/', '-')}`);
    }
    assert.deepEqual(page.errors, []);
    await page.context().close();
  });
}

test('the file viewer keeps indentation and highlights the linked line', async () => {
  for (const [tag, viewport] of [['wide', { width: 1366, height: 900 }], ['narrow', { width: 390, height: 844 }]]) {
    const page = await watchedPage(ctx.browser, { viewport });
    await page.goto(ctx.server.url + '/files?path=jjb%2Fjobs.yaml#L16');
    await hydrated(page);
    // The file's own bytes, line by line, against what the browser shows.
    const file = (await (await fetch(ctx.server.url + '/api/v1/file?path=jjb%2Fjobs.yaml')).text()).split('\n');
    const shown = await page.$$eval('ol.source li', (lis) => lis.map((li) => li.innerText));
    assert.equal(shown[15], file[15]);
    assert.match(shown[15], /^\s{4,}/, 'the indentation of line 16 is kept');
    const [target, other] = await page.$$eval('ol.source li', (lis) =>
      [lis[15], lis[14]].map((li) => getComputedStyle(li).backgroundColor));
    assert.notEqual(target, other, 'the linked line is highlighted');
    const inView = await page.$eval('#L16', (li) => { const r = li.getBoundingClientRect(); return r.top >= 0 && r.bottom <= innerHeight; });
    assert.ok(inView, 'the linked line is scrolled into view');
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 1, `the file page scrolls sideways by ${overflow}px`);
    // The job around the linked line is named beside it, and the YAML is highlighted.
    const label = await page.$eval('#L16', (li) => getComputedStyle(li, '::after').content);
    assert.equal(label, '"in project demo-python → lint-{python}"');
    assert.ok(await page.locator('ol.source span.k').count() > 10, 'keys are highlighted');
    await shot(page, `${tag}-file-viewer`);
    assert.deepEqual(page.errors, []);
    await page.context().close();
  }
});

test('versions do not break at the hyphen, and keyboard focus is visible', async () => {
  const page = await watchedPage(ctx.browser, { viewport: { width: 390, height: 844 } });
  await page.goto(ctx.server.url + '/pins');
  await hydrated(page);
  const wraps = await page.$$eval('.version', (els) => els.filter((e) => e.getClientRects().length > 1).map((e) => e.textContent));
  assert.deepEqual(wraps, []);
  // No word in a table cell is split across lines ("pytho n3"): each run of
  // letters and digits lies on one line (tables too wide scroll in their box).
  for (const p of ['/images', '/builds', '/hosts', '/images/python3', '/cleanup']) {
    await page.goto(ctx.server.url + p);
    await hydrated(page);
    const split = await page.evaluate(() => {
      const out = [];
      const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
      for (let n = walker.nextNode(); n; n = walker.nextNode()) {
        if (!n.parentElement?.closest('td, th')) continue;
        for (const m of n.textContent.matchAll(/[\p{L}\p{N}]+/gu)) {
          const r = document.createRange();
          r.setStart(n, m.index);
          r.setEnd(n, m.index + m[0].length);
          if ([...r.getClientRects()].filter((x) => x.width > 0).length > 1) out.push(m[0]);
        }
      }
      return out;
    });
    assert.deepEqual(split, [], `${p}: words split across lines`);
  }
  await page.goto(ctx.server.url + '/pins');
  await hydrated(page);
  // The first Tab reaches the skip link; then the navigation, each with an outline.
  await page.keyboard.press('Tab');
  assert.equal(await page.evaluate(() => document.activeElement.className), 'skip');
  await page.keyboard.press('Tab');
  await page.keyboard.press('Tab');
  const style = await page.evaluate(() => {
    const s = getComputedStyle(document.activeElement);
    return { tag: document.activeElement.tagName, outline: s.outlineStyle, width: parseFloat(s.outlineWidth) };
  });
  assert.equal(style.tag, 'A');
  assert.notEqual(style.outline, 'none');
  assert.ok(style.width >= 2, `focus outline ${style.width}px`);
  await shot(page, 'narrow-focus');
  await page.context().close();
});

test('the graph: a node per image, hover lights the relatives, Enter opens the image', async () => {
  const page = await watchedPage(ctx.browser, { viewport: { width: 1280, height: 800 } });
  await page.goto(ctx.server.url + '/graph');
  await hydrated(page);
  const names = await page.$$eval('svg g.node', (gs) => gs.map((g) => g.dataset.image).sort());
  assert.deepEqual(names, ['ci-base', 'node20', 'python3', 'shellcheck', 'tox']);
  await page.hover('g.node[data-image="python3"]');
  await page.waitForSelector('g.node.lit[data-image="tox"]');
  assert.deepEqual(
    await page.$$eval('g.node.lit', (gs) => gs.map((g) => g.dataset.image).sort()),
    ['ci-base', 'python3', 'tox'],
  );
  assert.equal(await page.getAttribute('g.node[data-image="node20"]', 'class'), 'node st-ok dim');
  await page.focus('g.node[data-image="tox"]');
  await page.keyboard.press('Enter');
  await page.waitForURL(/\/images\/tox$/);
  await page.waitForSelector('h1:has-text("tox")');
  assert.deepEqual(page.errors, []);
  await page.context().close();
});

test('the graph of the 85 corpus images: readable labels, links, search, status filter, one tab stop, a list on phones', async () => {
  const server = await startServer(['--repo', path.join(corpus, 'integration-config')]);
  try {
    const view = await (await fetch(server.url + '/api/v1/graph/view')).json();
    const names = view.layout.nodes.map((n) => n.name);
    assert.equal(names.length, 85);
    const page = await watchedPage(ctx.browser, { viewport: { width: 1366, height: 900 } });
    await page.goto(server.url + '/graph');
    await hydrated(page);
    // Labels are 12 units: drawn at 11 px or more at the default zoom.
    const px = await page.evaluate(() => 12 * document.querySelector('svg#graph').getScreenCTM().a);
    assert.ok(px >= 11, `labels at ${px.toFixed(1)} px`);
    // Every image is a real link, and the graph is one tab stop.
    assert.equal(await page.locator('svg#graph a[href^="/images/"]').count(), 85);
    assert.equal(await page.locator('g.node[tabindex="0"]').count(), 1);
    await page.focus('g.node[tabindex="0"]');
    const before = await page.evaluate(() => document.activeElement.dataset.image);
    await page.keyboard.press('ArrowRight');
    const after = await page.evaluate(() => document.activeElement.dataset.image);
    assert.ok(after && after !== before, `${before} → ${after}`);
    assert.equal(await page.getAttribute('g.node[tabindex="0"]', 'data-image'), after);
    await page.keyboard.press('ArrowDown');
    assert.notEqual(await page.evaluate(() => document.activeElement.dataset.image), after);
    await page.evaluate(() => document.activeElement.blur());
    // Search lights the images whose names match.
    await page.fill('#graph-search', 'php8');
    const lit = await page.$$eval('g.node.lit', (gs) => gs.map((g) => g.dataset.image).sort());
    assert.deepEqual(lit, names.filter((n) => n.includes('php8')).sort());
    await shot(page, 'wide-graph-corpus-search');
    // The status filter lights one status.
    await page.fill('#graph-search', '');
    await page.click('button.key[data-status="ok"]');
    assert.equal(await page.getAttribute('button.key[data-status="ok"]', 'aria-pressed'), 'true');
    const ok = Object.entries(view.status).filter(([, s]) => s === 'ok').map(([n]) => n);
    const okCount = names.filter((n) => !view.status[n] || view.status[n] === 'ok').length;
    assert.equal(await page.locator('g.node.lit').count(), okCount, ok.join(' '));
    assert.deepEqual(page.errors, []);
    await page.context().close();
    // A phone gets a list, parents first, and nothing scrolls sideways.
    const phone = await watchedPage(ctx.browser, { viewport: { width: 390, height: 844 } });
    await phone.goto(server.url + '/graph');
    await hydrated(phone);
    assert.equal(await phone.locator('.graph-list li').count(), 85);
    assert.equal(await phone.isVisible('.canvas'), false);
    assert.equal(await phone.isVisible('.graph-list'), true);
    await phone.fill('#graph-search', 'tox');
    assert.deepEqual(await phone.$$eval('.graph-list li:not(.hidden)', (ls) => ls.map((l) => l.dataset.image)).then((x) => x.sort()),
      names.filter((n) => n.includes('tox')).sort());
    assert.ok(await phone.evaluate(() => document.documentElement.scrollWidth) <= 390, 'the page scrolls sideways');
    await shot(phone, 'narrow-graph-corpus');
    assert.deepEqual(phone.errors, []);
    await phone.context().close();
  } finally {
    server.stop();
  }
});

test('tables sort by their headers, and the sort is kept in the URL', async () => {
  const page = await watchedPage(ctx.browser, { viewport: { width: 1366, height: 900 } });
  const catalog = await (await fetch(ctx.server.url + '/api/v1/catalog')).json();
  const most = Math.max(...catalog.images.map((i) => i.children.length));
  await page.goto(ctx.server.url + '/images');
  await hydrated(page);
  await page.click('a.sort[data-sort="children"]');
  await page.waitForURL(/sort=children&dir=asc/);
  await page.click('a.sort[data-sort="children"]');
  await page.waitForURL(/sort=children&dir=desc/);
  const first = await page.getAttribute('table.catalog tbody tr:first-child', 'data-image');
  assert.equal(catalog.images.find((i) => i.name === first).children.length, most);
  assert.equal(await page.getAttribute('th:has(a[data-sort="children"])', 'aria-sort'), 'descending');
  // A reload keeps it.
  await page.reload();
  await hydrated(page);
  assert.equal(await page.getAttribute('table.catalog tbody tr:first-child', 'data-image'), first);
  // The history: by id, newest first, unless asked otherwise.
  const runs = (await (await fetch(ctx.server.url + '/api/v1/builds')).json()).runs;
  await page.goto(ctx.server.url + '/builds');
  await hydrated(page);
  const ids = () => page.$$eval('table.runs tbody tr', (trs) => trs.map((t) => Number(t.dataset.run)));
  assert.deepEqual(await ids(), runs.map((r) => r.id).sort((a, b) => b - a));
  await page.click('a.sort[data-sort="run"]');
  await page.waitForURL(/sort=run&dir=asc/);
  assert.deepEqual(await ids(), runs.map((r) => r.id).sort((a, b) => a - b));
  // Older pages: the runs before one, and a way back to the newest.
  const newest = Math.max(...runs.map((r) => r.id));
  for (const width of [1366, 390]) {
    await page.setViewportSize({ width, height: 900 });
    await page.goto(ctx.server.url + `/builds?before=${newest}`);
    await hydrated(page);
    assert.deepEqual(await ids(), runs.map((r) => r.id).filter((id) => id < newest).sort((a, b) => b - a));
    await shot(page, `${width === 390 ? 'narrow' : 'wide'}-builds-older`);
  }
  await page.click('#newest-runs');
  await page.waitForURL(/\/builds$/);
  await page.waitForFunction((n) => document.querySelector('table.runs tbody tr')?.dataset.run === String(n), newest);
  assert.deepEqual(page.errors, []);
  await page.context().close();
});

test('the Builds page and the overview follow the history live, whoever writes it', async () => {
  const page = await watchedPage(ctx.browser, { viewport: { width: 1366, height: 900 } });
  await page.goto(ctx.server.url + '/builds');
  await hydrated(page);
  await page.evaluate(() => { window.__sameDocument = true; });
  const rows = () => page.locator('table.runs tbody tr').count();
  const before = await rows();
  // Another process adds the demo's three runs to the same store.
  const r = dockyard(['store', 'import', '--store', ctx.server.store, '--shift-to-now', 'demo/store.json']);
  assert.equal(r.status, 0, r.stderr);
  await page.waitForFunction((n) => document.querySelectorAll('table.runs tbody tr').length === n, before + 3, { timeout: 15000 });
  assert.equal(await page.evaluate(() => window.__sameDocument), true, 'the page was reloaded');
  assert.deepEqual(page.errors, []);
  await page.context().close();
});
