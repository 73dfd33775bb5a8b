#!/usr/bin/env node
// The field app's journey in the real Tauri binary: a guard sets up a phone against a real
// district server, starts a shift, records an all-clear check and syncs it.
//
// What runs: `rounds-server` (a temporary district with the demo data), Xvfb (a display with
// no screen), `tauri-driver` under `dbus-run-session`, which starts WebKitWebDriver, which
// starts `rounds-field`. The script talks to tauri-driver over the W3C WebDriver HTTP API
// with plain `fetch` (Node 20, no packages). It builds nothing:
//
//   cargo build -p rounds-field -p rounds-server
//   ROUNDS_FIELD_BIN=$CARGO_TARGET_DIR/debug/rounds-field \
//   ROUNDS_SERVER_BIN=$CARGO_TARGET_DIR/debug/rounds-server node tests/tauri/journey.mjs
//
// (Without the variables it looks in $CARGO_TARGET_DIR/debug, then target/debug.)
//
// It prints the time from the session request to a usable first screen (`#setup-server`
// displayed), saves a screenshot of the round to docs/screens/tauri-round.png, and ends with
// a libtest-style `test result:` line, which scripts/test.sh counts with the cargo tests.
// Every step has a timeout (ROUNDS_STEP_TIMEOUT_MS, default 20 s); every process it started
// is killed (by process group) whether it passes or fails. ROUNDS_KEEP_TMP=1 keeps the
// temporary folder (logs, data); it is always kept on failure.

import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const STEP_MS = Number(process.env.ROUNDS_STEP_TIMEOUT_MS ?? 20_000);
const SCREENSHOT = join(ROOT, 'docs/screens/tauri-round.png');
const ELEMENT = 'element-6066-11e4-a52e-4f735466cecf';

const started = Date.now();
const processes = [];
let tmp;

function log(msg) {
  process.stdout.write(`[journey ${((Date.now() - started) / 1000).toFixed(1)}s] ${msg}\n`);
}

class StepError extends Error {}

function bin(envName, name) {
  const candidates = [
    process.env[envName],
    process.env.CARGO_TARGET_DIR && join(process.env.CARGO_TARGET_DIR, 'debug', name),
    join(ROOT, 'target/debug', name),
  ].filter(Boolean);
  const found = candidates.find((p) => existsSync(p));
  if (!found) {
    throw new StepError(`${name} not found (set ${envName}; looked at ${candidates.join(', ')}). ` +
      'Build it first: cargo build -p rounds-field -p rounds-server');
  }
  return resolve(found);
}

function freePort() {
  return new Promise((ok, fail) => {
    const s = createServer();
    s.unref();
    s.on('error', fail);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => ok(port));
    });
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Starts a long-running process in its own process group, output to a log file. */
function start(name, cmd, args, { env = process.env, stdout = 'file' } = {}) {
  const logPath = join(tmp, `${name}.log`);
  const fd = openSync(logPath, 'a');
  const child = spawn(cmd, args, {
    env,
    detached: true, // its own process group, so killing it kills what it started
    stdio: ['ignore', stdout === 'pipe' ? 'pipe' : fd, fd],
  });
  const entry = { name, child, logPath, exited: null };
  child.on('exit', (code, signal) => { entry.exited = { code, signal }; });
  child.on('error', (e) => { entry.exited = { error: e.message }; });
  processes.push(entry);
  return entry;
}

function assertAlive(entry) {
  if (entry.exited) {
    const e = new StepError(`${entry.name} exited early (${JSON.stringify(entry.exited)}); log: ${entry.logPath}`);
    e.fatal = true;
    throw e;
  }
}

function tail(path, lines = 30) {
  try {
    return readFileSync(path, 'utf8').trimEnd().split('\n').slice(-lines).map((l) => `    ${l}`).join('\n');
  } catch {
    return '    (no log)';
  }
}

async function stopAll() {
  for (const p of [...processes].reverse()) {
    if (p.exited || !p.child.pid) continue;
    try { process.kill(-p.child.pid, 'SIGTERM'); } catch { /* already gone */ }
  }
  const deadline = Date.now() + 3000;
  while (processes.some((p) => !p.exited) && Date.now() < deadline) await sleep(50);
  for (const p of processes) {
    if (!p.exited && p.child.pid) {
      try { process.kill(-p.child.pid, 'SIGKILL'); } catch { /* already gone */ }
    }
  }
}

/** Runs a command to completion; returns its stdout. */
function run(cmd, args) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: STEP_MS });
  if (r.status !== 0) {
    throw new StepError(`${cmd} ${args.join(' ')} failed (${r.error ?? `exit ${r.status}`}):\n${r.stdout}${r.stderr}`);
  }
  return r.stdout;
}

/** Polls `probe` until it returns a truthy value; `what` names the step in the error. */
async function until(what, probe, ms = STEP_MS) {
  const deadline = Date.now() + ms;
  let last;
  for (;;) {
    try {
      const v = await probe();
      if (v) return v;
    } catch (e) {
      if (e instanceof StepError && e.fatal) throw e;
      last = e;
    }
    if (Date.now() > deadline) {
      throw new StepError(`timed out after ${ms / 1000} s waiting for ${what}${last ? ` (last error: ${last.message})` : ''}`);
    }
    await sleep(100);
  }
}

// --- W3C WebDriver over fetch ------------------------------------------------------------

let driverUrl;
let sessionId;

async function wd(method, path, body) {
  const res = await fetch(`${driverUrl}${path}`, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(STEP_MS * 3),
  });
  const text = await res.text();
  let json;
  try { json = JSON.parse(text); } catch { json = { value: text }; }
  if (!res.ok || (json.value && json.value.error)) {
    const v = json.value ?? {};
    const e = new StepError(`WebDriver ${method} ${path}: ${v.error ?? res.status} ${v.message ?? text}`.trim());
    e.code = v.error;
    throw e;
  }
  return json.value;
}

const s = (path) => `/session/${sessionId}${path}`;

async function find(css) {
  const v = await wd('POST', s('/element'), { using: 'css selector', value: css });
  return v[ELEMENT];
}

async function findAll(css) {
  const v = await wd('POST', s('/elements'), { using: 'css selector', value: css });
  return v.map((e) => e[ELEMENT]);
}

const displayed = async (id) => wd('GET', s(`/element/${id}/displayed`));
const attribute = async (id, name) => wd('GET', s(`/element/${id}/attribute/${name}`));
const text = async (id) => wd('GET', s(`/element/${id}/text`));

/** Waits for `css` to be displayed and returns its element id. */
async function visible(css, ms) {
  return until(`${css} to be displayed`, async () => {
    const id = await find(css);
    return (await displayed(id)) ? id : null;
  }, ms);
}

async function click(css) {
  const id = await visible(css);
  await until(`${css} to be enabled`, async () => wd('GET', s(`/element/${id}/enabled`)));
  await wd('POST', s(`/element/${id}/click`), {});
  return id;
}

async function type(css, value) {
  const id = await visible(css);
  await wd('POST', s(`/element/${id}/clear`), {});
  await wd('POST', s(`/element/${id}/value`), { text: value });
  const got = await wd('GET', s(`/element/${id}/property/value`));
  if (got !== value) throw new StepError(`${css} holds ${JSON.stringify(got)} after typing ${JSON.stringify(value)}`);
}

/** What the page shows that may say why a wait failed: its alerts and the status line. */
async function pageAlert() {
  const seen = [];
  try {
    for (const a of await findAll('[role="alert"], [role="status"]')) {
      const t = (await text(a)).trim().replace(/\s+/g, ' ');
      if (t) seen.push(t);
    }
  } catch { /* no session or no page */ }
  return seen.join(' | ');
}

async function step(name, fn) {
  const t0 = Date.now();
  try {
    const v = await fn();
    log(`ok   ${name} (${Date.now() - t0} ms)`);
    return v;
  } catch (e) {
    const alert = sessionId ? await pageAlert() : '';
    const m = `step "${name}" failed: ${e.message}${alert ? `\n  the app shows: ${alert}` : ''}`;
    const err = new StepError(m);
    err.fatal = true;
    throw err;
  }
}

// --- The journey -------------------------------------------------------------------------

async function main() {
  const fieldBin = bin('ROUNDS_FIELD_BIN', 'rounds-field');
  const serverBin = bin('ROUNDS_SERVER_BIN', 'rounds-server');
  tmp = mkdtempSync(join(tmpdir(), 'rounds-tauri-'));
  log(`temporary folder ${tmp}`);

  // The district server, with the demo district and an enrollment code.
  const serverData = join(tmp, 'server');
  const serverUrl = await step('district server starts', async () => {
    run(serverBin, ['--data', serverData, 'admin', 'seed-demo']);
    const server = start('server', serverBin, ['--data', serverData, 'serve', '--listen', '127.0.0.1:0'], { stdout: 'pipe' });
    let out = '';
    server.child.stdout.on('data', (b) => { out += b; });
    return until('the server to print its address', async () => {
      assertAlive(server);
      return out.match(/listening on (http:\/\/\S+)/)?.[1];
    });
  });
  const code = await step('enrollment code issued', async () => {
    const out = run(serverBin, ['--data', serverData, 'admin', 'enroll-code', '--hours', '1']);
    const c = out.trim().split(/\s+/)[0];
    if (!c) throw new StepError(`no code in ${JSON.stringify(out)}`);
    return c;
  });

  // A display, a session bus and a home of our own for WebKit, then the driver.
  const display = await step('Xvfb starts', async () => {
    const xvfb = start('xvfb', 'Xvfb', ['-displayfd', '1', '-screen', '0', '1024x900x24', '-nolisten', 'tcp'], { stdout: 'pipe' });
    let out = '';
    xvfb.child.stdout.on('data', (b) => { out += b; });
    const n = await until('Xvfb to choose a display', async () => {
      assertAlive(xvfb);
      return out.match(/^(\d+)\s*$/m)?.[1];
    });
    return `:${n}`;
  });

  const home = join(tmp, 'home');
  const env = {
    PATH: process.env.PATH,
    LANG: process.env.LANG ?? 'C.UTF-8',
    DISPLAY: display,
    HOME: home,
    XDG_CONFIG_HOME: join(home, '.config'),
    XDG_DATA_HOME: join(home, '.local/share'),
    XDG_CACHE_HOME: join(home, '.cache'),
    XDG_STATE_HOME: join(home, '.local/state'),
    XDG_RUNTIME_DIR: join(tmp, 'runtime'),
    ROUNDS_DATA: join(tmp, 'device'),
    RUST_LOG: process.env.RUST_LOG ?? 'info',
  };
  for (const d of [env.XDG_CONFIG_HOME, env.XDG_DATA_HOME, env.XDG_CACHE_HOME, env.XDG_STATE_HOME]) mkdirSync(d, { recursive: true });
  mkdirSync(env.XDG_RUNTIME_DIR, { recursive: true, mode: 0o700 });

  await step('tauri-driver ready', async () => {
    const port = await freePort();
    const nativePort = await freePort();
    driverUrl = `http://127.0.0.1:${port}`;
    const driver = start('driver', 'dbus-run-session', ['--', 'tauri-driver', '--port', String(port), '--native-port', String(nativePort)], { env });
    await until('tauri-driver /status to be ready', async () => {
      assertAlive(driver);
      const st = await wd('GET', '/status');
      return st?.ready;
    });
  });

  // App start to a usable first screen: from the session request (which launches the
  // binary) until the first-run form's first field is displayed.
  const t0 = performance.now();
  await step('session created (the app starts)', async () => {
    const v = await wd('POST', '/session', {
      capabilities: { alwaysMatch: { browserName: 'wry', 'tauri:options': { application: fieldBin } } },
    });
    sessionId = v.sessionId;
    if (!sessionId) throw new StepError(`no session id in ${JSON.stringify(v)}`);
  });
  const sessionMs = performance.now() - t0;
  await step('first screen usable (#setup-server displayed)', async () => {
    await visible('#setup-server');
    const url = await wd('GET', s('/url'));
    if (!/^tauri:\/\/localhost(\/|$)/.test(url)) throw new StepError(`the window shows ${url}, not the embedded UI`);
  });
  const firstScreenMs = performance.now() - t0;
  log(`app start to a usable first screen: ${Math.round(firstScreenMs)} ms (session created after ${Math.round(sessionMs)} ms)`);

  await step('setup filled and submitted', async () => {
    await type('#setup-server', serverUrl);
    await type('#setup-code', code);
    await type('#setup-device-name', 'Tauri CI phone');
    await type('#setup-username', 'gia.guard');
    await type('#setup-password', 'guard-pass-1');
    await type('#setup-pin', '2468013579');
    await click('#setup-submit');
  });
  await step('home screen', async () => visible('[data-screen="home"]'));

  await step('shift started', async () => {
    const buttons = await until('a button.start-shift', async () => {
      const all = await findAll('button.start-shift');
      return all.length ? all : null;
    });
    await wd('POST', s(`/element/${buttons[0]}/click`), {});
    await visible('[data-screen="round"]');
  });

  const checkpoint = await step('first checkpoint opened', async () => {
    const id = await visible('button.checkpoint');
    const cpId = await attribute(id, 'data-checkpoint-id');
    if (!cpId) throw new StepError('button.checkpoint has no data-checkpoint-id');
    await wd('POST', s(`/element/${id}/click`), {});
    return cpId;
  });
  const status = await step('all clear recorded', async () => {
    await click('#check-all-clear');
    // The round is repainted after the save, so find the button again by its checkpoint.
    return until('the checkpoint to be done or late', async () => {
      const st = await attribute(await find(`button.checkpoint[data-checkpoint-id="${checkpoint}"]`), 'data-status');
      return st === 'done' || st === 'late' ? st : null;
    });
  });
  log(`checkpoint ${checkpoint} is ${status}`);

  await step('synced (nothing waiting)', async () => {
    await click('#sync-now');
    // The count is for machines (the words are in #waiting-text) and may be hidden, so read
    // its textContent: WebDriver's element text is the rendered text, empty when hidden.
    await until('#waiting-count to read 0', async () => {
      const t = await wd('GET', s(`/element/${await find('#waiting-count')}/property/textContent`));
      return String(t).trim() === '0';
    }, STEP_MS * 3); // a sync may retry with backoff; it waits up to a minute itself
    // `Sync now` is enabled again once the sync has answered; no problem is shown.
    await until('#sync-now to be enabled again', async () => wd('GET', s(`/element/${await find('#sync-now')}/enabled`)));
    const problem = await find('#sync-problem');
    if (await displayed(problem)) throw new StepError(`sync problem shown: ${await text(problem)}`);
  });

  await step('screenshot saved', async () => {
    const png = Buffer.from(await wd('GET', s('/screenshot')), 'base64');
    if (png.subarray(1, 4).toString() !== 'PNG') throw new StepError('the screenshot is not a PNG');
    mkdirSync(dirname(SCREENSHOT), { recursive: true });
    writeFileSync(SCREENSHOT, png);
    log(`screenshot: ${SCREENSHOT} (${png.length} bytes)`);
  });

  await step('session deleted', async () => {
    await wd('DELETE', s(''));
    sessionId = undefined;
  });
  return { firstScreenMs };
}

let failed = null;
try {
  const { firstScreenMs } = await main();
  log(`journey passed; app start to usable first screen ${Math.round(firstScreenMs)} ms`);
} catch (e) {
  failed = e;
  process.stderr.write(`\nTauri journey FAILED: ${e.message}\n`);
  if (!(e instanceof StepError)) process.stderr.write(`${e.stack}\n`);
  for (const p of processes) process.stderr.write(`\n--- ${p.name} log (${p.logPath}) ---\n${tail(p.logPath)}\n`);
} finally {
  if (sessionId) {
    try { await wd('DELETE', s('')); } catch { /* the driver may be gone */ }
  }
  await stopAll();
  if (tmp) {
    if (failed || process.env.ROUNDS_KEEP_TMP) {
      process.stderr.write(`kept ${tmp} (logs, server and device data)\n`);
    } else {
      rmSync(tmp, { recursive: true, force: true });
    }
  }
}
const secs = ((Date.now() - started) / 1000).toFixed(2);
// Counted by scripts/test.sh together with cargo's own `test result:` lines.
process.stdout.write(failed
  ? `test result: FAILED. 0 passed; 1 failed; 0 ignored; 0 measured; 0 filtered out; finished in ${secs}s\n`
  : `test result: ok. 1 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; finished in ${secs}s\n`);
process.exit(failed ? 1 : 0);
