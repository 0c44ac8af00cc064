// Starts the real `dockyard serve` on a free loopback port and stops it;
// launches Debian's chromium; saves screenshots as build artefacts.
import { spawn, execFileSync } from 'node:child_process';
import { before, after } from 'node:test';
import { createRequire } from 'node:module';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const tools = process.env.TOOLS;
if (!tools) throw new Error('TOOLS is not set: run the browser tests through scripts/test');
const require = createRequire(path.join(tools, 'package.json'));
export const { chromium } = require('playwright-core');

export const root = path.resolve(import.meta.dirname, '..', '..');
export const corpus = path.resolve(root, '..', 'shared', 'corpus');
export const bin = process.env.DOCKYARD_BIN;
if (!bin) throw new Error('DOCKYARD_BIN is not set: run the browser tests through scripts/test');

/** Where screenshots go (scripts/test prints the folder). */
export const artifacts = process.env.DOCKYARD_ARTIFACTS
  || path.join(process.env.CARGO_TARGET_DIR || path.join(root, 'target'), 'e2e-artifacts');
fs.mkdirSync(artifacts, { recursive: true });

/** A fresh temporary folder, removed at exit. */
export function tempDir(prefix = 'dy-e2e-') {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  process.on('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Runs dockyard with `args`; returns { status, stdout, stderr }. */
export function dockyard(args, options = {}) {
  try {
    const stdout = execFileSync(bin, args, { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], ...options });
    return { status: 0, stdout, stderr: '' };
  } catch (e) {
    return { status: e.status, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

/** Starts dockyard serve with `args` and its own store (unless the
 *  environment names one); resolves to { url, stop, store }. */
export function startServer(args, { env = {}, seed = false } = {}) {
  const store = env.DOCKYARD_STORE || path.join(tempDir('dy-store-'), 'store.db');
  const fullEnv = { ...process.env, RUST_LOG: 'warn', DOCKYARD_STORE: store, ...env };
  if (seed) {
    const r = dockyard(['store', 'import', '--shift-to-now', 'demo/store.json'], { env: fullEnv });
    if (r.status !== 0) throw new Error(`store import failed: ${r.stderr}`);
  }
  const child = spawn(bin, ['serve', '--addr', '127.0.0.1:0', ...args], {
    cwd: root,
    env: fullEnv,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('dockyard serve did not start in 20 s')), 20000);
    let out = '';
    child.stdout.on('data', (chunk) => {
      out += chunk;
      const m = out.match(/listening on (http:\/\/\S+)\//);
      if (m) {
        clearTimeout(timer);
        resolve({ url: m[1], store, stop: () => child.kill('SIGTERM') });
      }
    });
    child.on('exit', (code) => reject(new Error(`dockyard serve exited with ${code}`)));
  });
}

/** Launches Debian's chromium headless. */
export async function launch() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync'],
  });
}

/** Starts a server with `args` and a browser before the file's tests, and
 *  stops both after; returns a getter for { server, browser }. */
export function useServerAndBrowser(args, options) {
  const ctx = {};
  before(async () => {
    ctx.server = await startServer(args, options);
    ctx.browser = await launch();
  });
  after(async () => {
    await ctx.browser?.close();
    ctx.server?.stop();
  });
  return ctx;
}

/** A page that records script errors; `errors` holds them. */
export async function watchedPage(browser, options = {}) {
  const context = await browser.newContext(options);
  const page = await context.newPage();
  page.errors = [];
  page.on('pageerror', (e) => page.errors.push(String(e)));
  page.on('console', (m) => { if (m.type() === 'error') page.errors.push(m.text()); });
  return page;
}

/** Waits until the WASM bundle has hydrated the page. */
export async function hydrated(page) {
  await page.waitForSelector('body[data-hydrated="true"]', { timeout: 20000 });
}

/** Saves a full-page screenshot as an artefact. */
export async function shot(page, name) {
  await page.screenshot({ path: path.join(artifacts, `${name}.png`), fullPage: true });
}
