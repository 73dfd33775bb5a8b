// What the end-to-end journeys (tests/ui, tests/console) share: starting the real programs
// and stopping them, and running named steps with a pass/fail record for the closing
// libtest-style line.

import { spawn } from 'node:child_process';

/** Every program started and still running; killed by the journey's `finally`. */
export const children = new Set();

/** The steps run so far: `{ name, ok, ms }`. */
export const steps = [];

export function log(msg) {
  process.stdout.write(`  ${msg}\n`);
}

/** Starts a program that prints `listening on http://ADDR`; resolves with the URL. */
export function startListening(cmd, args, name) {
  return new Promise((res, rej) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], detached: true, env: { ...process.env, RUST_LOG: 'warn' } });
    children.add(child);
    let out = '';
    let err = '';
    const timer = setTimeout(() => rej(new Error(`${name} did not start: ${err}`)), 30000);
    child.stdout.on('data', (d) => {
      out += d;
      const m = out.match(/listening on (http:\/\/\S+)/);
      if (m) { clearTimeout(timer); res({ url: m[1], child }); }
    });
    child.stderr.on('data', (d) => { err = (err + d).slice(-4000); });
    child.on('exit', (code) => { children.delete(child); clearTimeout(timer); rej(new Error(`${name} exited (${code}): ${err}`)); });
  });
}

/** Stops a program (its whole process group) and waits for it. */
export function stop(child, signal = 'SIGTERM') {
  if (!child || child.exitCode !== null) return Promise.resolve();
  return new Promise((res) => {
    child.once('exit', () => res());
    try { process.kill(-child.pid, signal); } catch { res(); }
  });
}

/** Runs one named step of a journey, recording whether it passed and how long it took. */
export async function step(name, fn) {
  const t = Date.now();
  try {
    await fn();
    steps.push({ name, ok: true, ms: Date.now() - t });
    log(`ok   ${name} (${Date.now() - t} ms)`);
  } catch (e) {
    steps.push({ name, ok: false, ms: Date.now() - t });
    log(`FAIL ${name}: ${e.message}`);
    throw e;
  }
}
