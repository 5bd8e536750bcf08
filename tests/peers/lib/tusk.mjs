// Starts a real `tusk serve` for the peer tests and the benchmark.
//
// The server listens on 127.0.0.1:0 with JSON logs; we read its stderr until
// the "tusk is serving" line names the bound address, and keep draining it
// afterwards so the child never blocks on a full pipe. Every line is kept so a
// failing test can print what the server said.

import { spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

export const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

// Pachyderm's environment variables that tusk reads (tusk_core::config::ENV_VARS):
// a developer's shell must not leak them into the server under test.
const PACHYDERM_ENV = [
  'IDP_CONNECTORS', 'IDP_CONFIG', 'IDP_CLIENTS', 'IDP_ADDITIONAL_CLIENTS', 'TRUSTED_PEERS',
  'ACTIVATE_AUTH', 'AUTH_ROOT_TOKEN', 'AUTH_CONFIG', 'AUTH_CLIENT_SECRET', 'AUTH_CLUSTER_RBAC',
  'CONSOLE_OAUTH_ID', 'CONSOLE_OAUTH_SECRET', 'SESSION_DURATION_MINUTES', 'LICENSE_KEY',
];

export function defaultBinary() {
  return process.env.TUSK_BIN || join(REPO, 'target', 'debug', 'tusk');
}

/**
 * Spawns `tusk serve` and resolves once it is serving.
 * @param {object} opts
 * @param {string} opts.values   YAML written to a temporary values file
 * @param {string} [opts.bin]    binary (default $TUSK_BIN or target/debug/tusk)
 * @param {string[]} [opts.command] prefix, e.g. ['taskset', '-c', '0']
 * @param {string} [opts.listen] --listen (default 127.0.0.1:0, the port tusk logs)
 * @param {number} [opts.startTimeoutMs]
 * @param {string[]} [opts.extraArgs] more `tusk serve` arguments (e.g. --database-url)
 * @param {object} [opts.extraEnv] environment set after the TUSK_ variables are cleared
 */
export async function startTusk({ values, bin = defaultBinary(), command = [], listen = '127.0.0.1:0', startTimeoutMs = 60_000, extraArgs = [], extraEnv = {} } = {}) {
  const dir = await mkdtemp(join(tmpdir(), 'tusk-peers-'));
  const dataDir = join(dir, 'data');
  const valuesFile = join(dir, 'values.yaml');
  await writeFile(valuesFile, values);

  const env = { ...process.env };
  for (const k of Object.keys(env)) {
    if (k.startsWith('TUSK_') || PACHYDERM_ENV.includes(k)) delete env[k];
  }
  env.RUST_LOG ??= 'info';
  Object.assign(env, extraEnv);

  const args = ['serve', '--listen', listen, '--log-format', 'json',
    '--data-dir', dataDir, '--values', valuesFile, ...extraArgs];
  const [file, ...pre] = command.length ? [...command, bin] : [bin];
  const child = spawn(file, [...pre, ...args], { env, stdio: ['ignore', 'ignore', 'pipe'] });

  // If this process ends without stop() (a crash, a closed stdout), take
  // the server with it rather than leaving it running.
  const reap = () => {
    if (!exited) child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  };
  process.once('exit', reap);

  const log = [];
  let exited = null;
  const exitPromise = new Promise((res) => {
    child.once('exit', (code, signal) => { exited = { code, signal }; res(exited); });
    child.once('error', (err) => { exited = { error: err }; res(exited); });
  });

  const serving = new Promise((res, rej) => {
    const rl = createInterface({ input: child.stderr });
    rl.on('line', (line) => {
      log.push(line);
      let v;
      try { v = JSON.parse(line); } catch { return; }
      if (v?.fields?.message === 'tusk is serving') res(v.fields);
    });
    exitPromise.then((e) => rej(new Error(
      `tusk exited before serving (${e.error ? e.error.message : `code ${e.code}, signal ${e.signal}`}); ` +
      `binary ${bin}\n--- tusk log ---\n${log.join('\n')}`)));
  });
  let timer;
  const timeout = new Promise((_, rej) => {
    timer = setTimeout(() => rej(new Error(
      `tusk did not log "tusk is serving" within ${startTimeoutMs} ms\n--- tusk log ---\n${log.join('\n')}`)),
    startTimeoutMs);
  });

  let fields;
  try {
    fields = await Promise.race([serving, timeout]);
  } catch (err) {
    process.removeListener('exit', reap);
    if (!exited) child.kill('SIGKILL');
    await exitPromise;
    await rm(dir, { recursive: true, force: true });
    throw err;
  } finally {
    clearTimeout(timer);
  }

  const bound = fields.listen;
  return {
    child,
    pid: child.pid,
    listen: bound,
    base: `http://${bound}`,
    issuer: `http://${bound}/dex`,
    loggedIssuer: fields.issuer,
    bin,
    log,
    /** Log lines emitted since `from` (an index into `log`). */
    logSince(from = 0) { return log.slice(from).join('\n'); },
    get exited() { return exited; },
    /** SIGTERM, wait for the exit, remove the temporary directory. */
    async stop({ timeoutMs = 15_000 } = {}) {
      if (!exited) {
        child.kill('SIGTERM');
        const t = setTimeout(() => { if (!exited) child.kill('SIGKILL'); }, timeoutMs);
        await exitPromise;
        clearTimeout(t);
      }
      process.removeListener('exit', reap);
      await rm(dir, { recursive: true, force: true });
      return exited;
    },
  };
}
