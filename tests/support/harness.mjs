// What the end-to-end journeys (tests/ui, tests/console) share: starting the real programs
// and stopping them, running named steps with a pass/fail record, checks, accessibility, and
// `runJourney`, which runs a journey's `main` and ends with the libtest-style line
// scripts/test.sh counts.

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

/** Fails the step with `why` unless `cond` holds. */
export function check(cond, why) {
  if (!cond) throw new Error(why);
}

const mustHold = check;

/**
 * Runs a journey: `main()` (which stops what it started in its own `finally`), then whatever
 * is still running is killed, `figures` printed, `done()` run (it writes files, removes the
 * temporary folder), and the libtest-style `test result:` line written for `label`; the
 * process exits 1 when a step failed or `main` threw.
 */
export async function runJourney(label, main, { figures = {}, pretty = false, done = () => {} } = {}) {
  let failed = false;
  try {
    await main();
  } catch (e) {
    failed = true;
    process.stdout.write(`journey failed: ${e.stack}\n`);
  }
  for (const c of [...children]) await stop(c, 'SIGKILL');
  process.stdout.write(`${pretty ? '\n' : ''}figures: ${JSON.stringify(figures, null, pretty ? 1 : undefined)}\n`);
  done();
  const passed = steps.filter((s) => s.ok).length;
  // A throw outside any step counts as one more failure.
  const failures = steps.length - passed + (failed && steps.every((s) => s.ok) ? 1 : 0);
  process.stdout.write(`test result: ${failed ? 'FAILED' : 'ok'}. ${passed} passed; ${failures} failed; (${label})\n`);
  process.exit(failed ? 1 : 0);
}

/**
 * axe-core on the screen as it is: no serious or critical violation. Then every visible,
 * enabled control must be reached by pressing Tab, and each must have a name. `axe` is the path of
 * axe-core's `axe.min.js`; `within` a selector that narrows the controls to an open dialog.
 */
export async function checkAccessible(page, screenName, { axe, within = null }) {
  await page.addScriptTag({ path: axe });
  const found = await page.evaluate(async () => {
    const r = await globalThis.axe.run(document, { resultTypes: ['violations'] });
    return r.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical')
      .map((v) => `${v.id} (${v.impact}): ${v.help} — ${v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join('; ')}`);
  });
  mustHold(found.length === 0, `axe on the ${screenName} screen:\n      ${found.join('\n      ')}`);
  const controls = await page.evaluate((scope) => {
    const all = [...document.querySelectorAll('button, input, select, textarea, a[href], summary, [tabindex]:not([tabindex="-1"])')]
      .filter((el) => !el.disabled && el.getClientRects().length > 0 && getComputedStyle(el).visibility !== 'hidden'
        && !el.closest('[hidden], [inert]') && el.type !== 'hidden');
    const within = (scope && document.querySelector(scope)) || document;
    const inScope = all.filter((el) => within.contains(el));
    inScope.forEach((el, i) => el.setAttribute('data-reach', String(i)));
    const unnamed = inScope.filter((el) => {
      const labelled = el.labels?.length || el.getAttribute('aria-label') || el.getAttribute('aria-labelledby');
      // A link's name may come from its image's alt text (a photo thumbnail).
      const text = (el.textContent ?? '').trim() || el.querySelector('img[alt]:not([alt=""])')?.alt;
      return !(labelled || (['BUTTON', 'A', 'SUMMARY'].includes(el.tagName) && text) || el.classList.contains('vlist'));
    }).map((el) => el.outerHTML.slice(0, 80));
    return { count: inScope.length, unnamed };
  }, within);
  mustHold(controls.unnamed.length === 0, `controls without a label on the ${screenName} screen: ${controls.unnamed.join(', ')}`);
  const reached = new Set();
  const focused = () => page.evaluate(() => document.activeElement?.getAttribute('data-reach'));
  for (let i = 0; i < controls.count + 8 && reached.size < controls.count; i++) {
    const at = await focused();
    if (at !== null && at !== undefined) reached.add(at);
    await page.keyboard.press('Tab');
  }
  const last = await focused();
  if (last !== null && last !== undefined) reached.add(last);
  mustHold(reached.size === controls.count, `only ${reached.size} of the ${controls.count} controls of the ${screenName} screen are reached with Tab`);
  await page.evaluate(() => document.querySelectorAll('[data-reach]').forEach((el) => el.removeAttribute('data-reach')));
}
