// Real parts for the build test: a private dockerd (own socket, data and
// exec roots, no bridge, no iptables) and Debian's docker-registry on a
// loopback port, both stopped after the file's tests; and a small catalog
// whose base is FROM scratch plus Debian's static busybox.
import { spawn, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { tempDir } from './server.mjs';

function need(file, what) {
  if (!fs.existsSync(file)) throw new Error(`${file} is missing: ${what} (scripts/setup installs it; run through scripts/test)`);
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** A free loopback port. */
export function freePort() {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/** Starts a private dockerd; resolves to { host, docker(args), stop() }. */
export async function startDockerd() {
  need('/usr/sbin/dockerd', 'the build test needs Debian\'s docker.io');
  if (process.getuid() !== 0) throw new Error('the build test starts its own dockerd and needs root');
  // Short paths: a unix socket path is limited to 108 bytes.
  const dir = fs.mkdtempSync('/tmp/dke');
  const sock = path.join(dir, 'docker.sock');
  const log = fs.openSync(path.join(dir, 'dockerd.log'), 'w');
  const child = spawn('/usr/sbin/dockerd', ['--host', `unix://${sock}`, '--data-root', path.join(dir, 'data'),
    '--exec-root', path.join(dir, 'exec'), '--pidfile', path.join(dir, 'pid'), '--bridge', 'none',
    '--iptables=false', '--ip-masq=false'], { stdio: ['ignore', 'ignore', log] });
  const host = `unix://${sock}`;
  const docker = (args) => execFileSync('/usr/bin/docker', args, { env: { ...process.env, DOCKER_HOST: host }, encoding: 'utf8' });
  const deadline = Date.now() + 60000;
  for (;;) {
    try {
      docker(['version', '--format', '{{.Server.APIVersion}}']);
      break;
    } catch {
      if (Date.now() > deadline) throw new Error(`dockerd did not start: ${fs.readFileSync(path.join(dir, 'dockerd.log'), 'utf8')}`);
      await sleep(150);
    }
  }
  const stop = async () => {
    child.kill('SIGTERM');
    await Promise.race([new Promise((r) => child.on('exit', r)), sleep(10000)]);
    child.kill('SIGKILL');
    try { execFileSync('umount', ['-R', path.join(dir, 'data')], { stdio: 'ignore' }); } catch { /* not mounted */ }
    fs.rmSync(dir, { recursive: true, force: true });
  };
  return { host, docker, stop };
}

/** Starts docker-registry on a loopback port; resolves to { host, stop() }. */
export async function startRegistry({ deletion = false } = {}) {
  need('/usr/bin/docker-registry', 'the build test needs Debian\'s docker-registry');
  const dir = tempDir('dy-reg-');
  const port = await freePort();
  const config = path.join(dir, 'config.yml');
  fs.writeFileSync(config, `version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: ${dir}/data\n  delete:\n    enabled: ${deletion}\nhttp:\n  addr: 127.0.0.1:${port}\n`);
  const child = spawn('/usr/bin/docker-registry', ['serve', config], { stdio: 'ignore' });
  const host = `127.0.0.1:${port}`;
  const deadline = Date.now() + 20000;
  for (;;) {
    try {
      if ((await fetch(`http://${host}/v2/`)).ok) break;
    } catch { /* not yet */ }
    if (Date.now() > deadline) throw new Error('docker-registry did not start');
    await sleep(100);
  }
  return { host, stop: () => child.kill('SIGTERM') };
}

const changelog = (name, version) =>
  `${name} (${version}) wikimedia; urgency=medium\n\n  * Test.\n\n -- T <t@example.org>  Mon, 01 Jan 2024 00:00:00 +0000\n`;

/** A repository: `base` (busybox) and `app` below it, whose build prints
 *  a line a second for `seconds`; jjb pins app's version (unpublished). */
export function buildRepo(registry, seconds) {
  need('/bin/busybox', 'the build test needs Debian\'s busybox-static');
  const repo = tempDir('dy-build-');
  const df = path.join(repo, 'dockerfiles');
  fs.mkdirSync(path.join(df, 'base'), { recursive: true });
  fs.mkdirSync(path.join(df, 'app'), { recursive: true });
  fs.mkdirSync(path.join(repo, 'jjb'));
  fs.writeFileSync(path.join(df, 'config.yaml'), `registry: ${registry}\nnamespace: e2e\n`);
  fs.copyFileSync('/bin/busybox', path.join(df, 'base', 'busybox'));
  fs.writeFileSync(path.join(df, 'base', 'Dockerfile.template'),
    'FROM scratch\nCOPY busybox /bin/busybox\nRUN ["/bin/busybox", "--install", "-s", "/bin"]\nCMD ["/bin/sh"]\n');
  fs.writeFileSync(path.join(df, 'base', 'changelog'), changelog('base', '1.0'));
  fs.writeFileSync(path.join(df, 'app', 'Dockerfile.template'),
    `FROM {{ "base" | image_tag }}\nRUN for i in $(seq 1 ${seconds}); do echo "tick $i"; sleep 1; done\n`);
  fs.writeFileSync(path.join(df, 'app', 'changelog'), changelog('app', '2.0'));
  fs.writeFileSync(path.join(df, 'app', 'control'), 'Package: app\nDepends: base\n');
  fs.writeFileSync(path.join(repo, 'jjb', 'jobs.yaml'),
    `- job:\n    name: app-test\n    builders:\n      - docker:\n          image: ${registry}/e2e/app:2.0\n`);
  return repo;
}
