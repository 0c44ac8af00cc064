// Starts the real `dockyard serve` on a free loopback port and stops it.
import { spawn } from 'node:child_process';
import { before, after } from 'node:test';
import { createRequire } from 'node:module';
import path from 'node:path';

const tools = process.env.TOOLS;
if (!tools) throw new Error('TOOLS is not set: run the browser tests through scripts/test');
const require = createRequire(path.join(tools, 'package.json'));
export const { chromium } = require('playwright-core');

export const root = path.resolve(import.meta.dirname, '..', '..');

/** Starts dockyard serve with `args`; resolves to { url, stop }. */
export function startServer(args) {
  const bin = process.env.DOCKYARD_BIN;
  if (!bin) throw new Error('DOCKYARD_BIN is not set: run the browser tests through scripts/test');
  const child = spawn(bin, ['serve', '--addr', '127.0.0.1:0', ...args], {
    cwd: root,
    env: { ...process.env, RUST_LOG: 'warn' },
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
        resolve({ url: m[1], stop: () => child.kill('SIGTERM') });
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
export function useServerAndBrowser(args) {
  const ctx = {};
  before(async () => {
    ctx.server = await startServer(args);
    ctx.browser = await launch();
  });
  after(async () => {
    await ctx.browser?.close();
    ctx.server?.stop();
  });
  return ctx;
}
