// Time to interactive of /graph in headless Chromium: from navigation
// start to the moment the WASM bundle has hydrated the page (the app sets
// body[data-hydrated]), over RUNS fresh page loads; then a hover checks the
// page reacts, and a screenshot shows the graph.
//   node benches/graph_tti.mjs URL RUNS SCREENSHOT
import { createRequire } from 'node:module';
const require = createRequire(`${process.env.TOOLS}/package.json`);
const { chromium } = require('playwright-core');
const [url, runs = '10', screenshot = ''] = process.argv.slice(2);
const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox'] });
const times = [];
let nodes = 0;
for (let i = 0; i < Number(runs); i++) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await context.newPage();
  await page.addInitScript(() => {
    new MutationObserver(() => {
      if (document.body?.dataset.hydrated === 'true' && window.__tti === undefined) window.__tti = performance.now();
    }).observe(document, { subtree: true, attributes: true, attributeFilter: ['data-hydrated'] });
  });
  await page.goto(url + '/graph');
  await page.waitForFunction(() => window.__tti !== undefined, null, { timeout: 30000 });
  times.push(await page.evaluate(() => window.__tti));
  if (i === 0) {
    nodes = await page.$$eval('svg g.node', (g) => g.length);
    const first = await page.$eval('svg g.node', (g) => g.dataset.image);
    await page.hover(`g.node[data-image="${first}"]`);
    await page.waitForSelector('g.node.lit', { timeout: 5000 });
    if (screenshot) await page.screenshot({ path: screenshot });
  }
  await context.close();
}
await browser.close();
times.sort((a, b) => a - b);
const med = times[Math.floor(times.length / 2)];
console.log(`  /graph with ${nodes} images: time to interactive median ${med.toFixed(0)} ms, max ${times.at(-1).toFixed(0)} ms over ${times.length} loads`);
