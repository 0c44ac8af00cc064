// A private dashboard (`serve --private`): every page is a login form that
// shows nothing of the repository until the token is given; after the
// login the pages come back. Screenshots of the login, wide and narrow.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { useServerAndBrowser, watchedPage, shot } from './server.mjs';

const token = 'e2e-private-token-123';
const ctx = useServerAndBrowser(['--repo', 'demo', '--private'], { seed: true, env: { DOCKYARD_TOKEN: token } });

for (const [tag, viewport] of [['wide', { width: 1366, height: 900 }], ['narrow', { width: 390, height: 844 }]]) {
  test(`a private dashboard asks for the token and then shows the pages, ${tag}`, async () => {
    const page = await watchedPage(ctx.browser, { viewport });
    const res = await page.goto(ctx.server.url + '/pins');
    assert.equal(res.status(), 401);
    const html = await page.content();
    for (const data of ['python3', 'jobs.yaml', 'registry.example.org']) {
      assert.ok(!html.includes(data), `the login page shows ${data}`);
    }
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 1, `the login page scrolls sideways by ${overflow}px`);
    await shot(page, `${tag}-login`);
    await page.fill('#token', token);
    await Promise.all([page.waitForURL(ctx.server.url + '/'), page.click('button[type="submit"]')]);
    await page.goto(ctx.server.url + '/pins');
    assert.match(await page.content(), /data-image="python3"/);
    await page.context().close();
  });
}
