// End-to-end journeys of the field app in a real browser (Debian's chromium driven by
// playwright-core) at a phone's viewport, against the real Rust core (the app's commands
// served by `rounds-app-bridge` on loopback) and a real district server (`rounds-server`).
//
// Journeys: set up (enroll) → lock → wrong PIN → unlock → start a shift → 10 checks (one by
// tag, one with a problem) → sync → file an incident → the server goes away → 3 more checks
// → it comes back → sync → a supervisor's phone sees everything; the screens lock after
// inactivity; lockout after wrong PINs; a list of 10,000 incidents opens and scrolls.
//
// Binaries come from $CARGO_TARGET_DIR/debug (build them first: scripts/test.sh does).
// Screenshots of each screen go to docs/screens/; timings are printed as a table and written
// to tests/ui/last-run.json.
//
//   ROUNDS_UI_LIST   records in the long list (default 10000)
//   ROUNDS_UI_SHOTS  folder for screenshots (default docs/screens)

import { execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, writeFileSync, rmSync, readdirSync, readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { tmpdir, homedir } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { children, steps, log, startListening, stop, step } from '../support/harness.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const repo = resolve(here, '..', '..');
const target = process.env.CARGO_TARGET_DIR ?? join(homedir(), '.cache', 'rounds-target');
const bin = (name) => join(target, 'debug', name);
const SERVER = process.env.ROUNDS_SERVER_BIN ?? bin('rounds-server');
const BRIDGE = process.env.ROUNDS_BRIDGE_BIN ?? bin('rounds-app-bridge');
const DEVICE = process.env.ROUNDS_DEVICE_BIN ?? bin('rounds-device');
const LIST = Number(process.env.ROUNDS_UI_LIST ?? 10000);
const SHOTS = resolve(repo, process.env.ROUNDS_UI_SHOTS ?? 'docs/screens');
const PIN = '246810';
// A real (tiny) PNG, as a phone's camera would hand over a JPEG.
const PHOTO = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAIAAAACCAIAAAD91JpzAAAAFklEQVR4nGNkYPjPwMDAxMDAwMDAAAANHQEDasKb6QAAAABJRU5ErkJggg==', 'base64');
const PHOTO_HASH = createHash('sha256').update(PHOTO).digest('hex');

const tmp = mkdtempSync(join(tmpdir(), 'rounds-ui-'));
const figures = {};




function serverCli(data, ...args) {
  return execFileSync(SERVER, ['--data', data, ...args], { encoding: 'utf8' });
}

function enrollmentCode(data) {
  return serverCli(data, 'admin', 'enroll-code').trim().split(/\s+/)[0];
}


function check(cond, why) {
  if (!cond) throw new Error(why);
}

async function shot(page, name) {
  await page.screenshot({ path: join(SHOTS, `${name}.png`) });
}

async function marks(page, name) {
  return page.evaluate((n) => globalThis.roundsPerf.marks.filter((m) => m.name === n).map((m) => m.ms), name);
}

async function waitMarks(page, name, count) {
  await page.waitForFunction(([n, c]) => globalThis.roundsPerf.marks.filter((m) => m.name === n).length >= c, [name, count]);
  return marks(page, name);
}

function stats(list) {
  const s = [...list].sort((a, b) => a - b);
  const q = (p) => s[Math.min(s.length - 1, Math.floor(p * s.length))];
  return { n: s.length, median: +q(0.5).toFixed(1), p95: +q(0.95).toFixed(1), max: +s[s.length - 1].toFixed(1) };
}

async function waitingCount(page) {
  return Number(await page.locator('#waiting-count').textContent());
}

async function syncNow(page) {
  await page.click('#sync-now');
  await page.waitForFunction(() => document.getElementById('sync-now').textContent === 'Sync now');
}

async function allClear(page, index) {
  const row = page.locator('button.checkpoint').nth(index);
  const id = await row.getAttribute('data-checkpoint-id');
  await row.click();
  await page.click('#check-all-clear');
  await page.waitForSelector('.sheet', { state: 'detached' });
  const status = await page.locator(`button.checkpoint[data-checkpoint-id="${id}"]`).getAttribute('data-status');
  check(['done', 'late', 'upcoming'].includes(status), `checkpoint ${index} shows ${status} after all clear`);
}

async function main() {
  mkdirSync(SHOTS, { recursive: true });
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
  });
  const phone = { viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, hasTouch: true, isMobile: true, locale: 'en-GB' };
  const serverData = join(tmp, 'server');
  let server;
  let serverUrl;
  let bridge;
  try {
    await step('district server starts with the demo district', async () => {
      serverCli(serverData, 'admin', 'seed-demo');
      server = await startListening(SERVER, ['--data', serverData, 'serve', '--listen', '127.0.0.1:0'], 'server');
      serverUrl = server.url;
    });
    bridge = await startListening(BRIDGE, ['--data', join(tmp, 'phone')], 'bridge');
    const context = await browser.newContext(phone);
    const page = await context.newPage();
    page.on('pageerror', (e) => log(`page error: ${e.message}`));

    await step('the first screen asks for the server and an enrollment code', async () => {
      const t = Date.now();
      await page.goto(bridge.url);
      await page.waitForSelector('#setup-server');
      figures.first_screen_ms = Date.now() - t;
      await shot(page, '01-setup');
    });

    await step('a guard enrolls the phone and lands on the home screen', async () => {
      await page.fill('#setup-server', serverUrl);
      await page.fill('#setup-code', enrollmentCode(serverData));
      await page.fill('#setup-device-name', 'Lincoln post phone');
      await page.fill('#setup-username', 'gia.guard');
      await page.fill('#setup-password', 'guard-pass-1');
      await page.fill('#setup-pin', PIN);
      await page.click('#setup-submit');
      await page.waitForSelector('[data-screen="home"]');
      check((await page.locator('h1').textContent()).includes('Gia'), 'the home screen greets the guard by name');
      check(await page.locator('#status').isVisible(), 'the status line shows once unlocked');
      check(await page.locator('button.start-shift').count() > 0, 'the guard\'s posts came down with the first sync');
      await shot(page, '02-home');
    });

    await step('a wrong PIN is refused with a clear message, the right one unlocks', async () => {
      await page.click('#lock');
      await page.waitForSelector('[data-screen="unlock"]');
      check(await page.locator('#status').isHidden(), 'nothing about the records shows while locked');
      await shot(page, '03-unlock');
      await page.fill('#unlock-pin', '111111');
      await page.click('#unlock-submit');
      await page.waitForFunction(() => document.querySelector('[role="alert"]')?.textContent.startsWith('Wrong PIN'));
      await shot(page, '04-wrong-pin');
      await page.fill('#unlock-pin', PIN);
      await page.click('#unlock-submit');
      await page.waitForSelector('[data-screen="home"]');
      figures.unlock_ms = (await waitMarks(page, 'unlock', 1))[0];
    });

    await step('the guard starts a shift and sees the round in order', async () => {
      await page.locator('button.start-shift').first().click();
      await page.waitForSelector('[data-screen="round"]');
      const n = await page.locator('button.checkpoint').count();
      check(n === 6, `Lincoln's round has 6 checkpoints, the screen shows ${n}`);
      await shot(page, '05-round');
    });

    await step('10 checks: all clear in two taps, one by tag code, one with a problem', async () => {
      // By tag: typed (a scanner types the same way) and confirmed.
      const detail = await page.locator('button.checkpoint').nth(1).locator('.detail').textContent();
      const tag = detail.match(/Tag (\S+)/)[1];
      await page.fill('#tag-input', tag.toLowerCase());
      await page.click('#tag-submit');
      await page.waitForSelector('#check-all-clear');
      await shot(page, '06-check-sheet');
      await page.click('#check-all-clear');
      await page.waitForSelector('.sheet', { state: 'detached' });
      // A problem with a note.
      await page.locator('button.checkpoint').nth(2).click();
      await page.click('#check-problem');
      await page.selectOption('#problem-kind', 'hazard');
      await page.fill('#problem-note', 'Water on the floor by the boiler; put out a wet-floor sign.');
      await page.setInputFiles('#check-photo', { name: 'puddle.png', mimeType: 'image/png', buffer: PHOTO });
      await shot(page, '07-check-problem');
      await page.click('#problem-save');
      await page.waitForSelector('.sheet', { state: 'detached' });
      for (const i of [0, 3, 4, 5, 0, 1, 3, 4]) await allClear(page, i);
      const taps = await waitMarks(page, 'all_clear', 10);
      figures.all_clear_ms = stats(taps);
      check(taps.length === 10, `10 checks recorded on screen, saw ${taps.length}`);
      const summary = await page.locator('#round-summary').textContent();
      check(/done|late/.test(summary), `the summary counts the visits: ${summary}`);
      await shot(page, '08-round-after');
    });

    await step('background sync sends every check to the district server by itself', async () => {
      await page.waitForFunction(() => document.getElementById('waiting-count').textContent === '0', null, { timeout: 15000 });
      await syncNow(page);
      const kept = join(serverData, 'photos', PHOTO_HASH);
      check(readdirSync(join(serverData, 'photos')).includes(PHOTO_HASH), 'the check\'s photo reached the server');
      check(createHash('sha256').update(readFileSync(kept)).digest('hex') === PHOTO_HASH, 'whole, with the hash it is named by');
      await page.waitForFunction(() => document.getElementById('waiting-count').textContent === '0');
    });

    await step('the guard files an incident', async () => {
      await page.click('.back');
      await page.waitForSelector('[data-screen="home"]');
      await page.click('#file-incident');
      await page.waitForSelector('[data-screen="incidentForm"]');
      await page.selectOption('#incident-type', 'trespass');
      await page.fill('#incident-location', 'North parking lot, by the bus loop');
      await page.click('#add-person-entry');
      await page.fill('#person-1-name', 'Unknown adult');
      await page.selectOption('#person-1-category', 'visitor');
      await page.selectOption('#person-1-involvement', 'offender');
      await page.uncheck('#person-1-juvenile');
      await page.fill('#incident-narrative', 'An adult without a visitor badge walked onto the grounds and left when asked.');
      await page.fill('#incident-actions', 'Asked him to leave; told the front office.');
      await page.setInputFiles('#incident-photos', { name: 'gate.png', mimeType: 'image/png', buffer: PHOTO });
      await shot(page, '09-incident-form');
      await page.click('#incident-submit');
      await page.waitForSelector('[data-screen="incident"]');
      check((await page.locator('#incident-status').textContent()) === 'Submitted', 'the incident was submitted');
      await page.waitForFunction(() => document.querySelector('img.thumb')?.src.startsWith('data:image/png'));
      await shot(page, '10-incident');
    });

    await step('with the server gone, three more checks are saved and wait', async () => {
      await stop(server.child, 'SIGKILL');
      await page.click('.back');
      await page.waitForSelector('[data-screen="home"]');
      await page.click('#continue-round');
      await page.waitForSelector('[data-screen="round"]');
      for (const i of [2, 5, 1]) await allClear(page, i);
      await syncNow(page);
      await page.waitForFunction(() => /No connection/.test(document.getElementById('sync-problem').textContent));
      const waiting = await waitingCount(page);
      check(waiting >= 3, `the offline checks (and the incident's sync) wait: ${waiting}`);
      await shot(page, '11-offline');
    });

    await step('the server comes back and everything syncs', async () => {
      const port = new URL(serverUrl).port;
      server = await startListening(SERVER, ['--data', serverData, 'serve', '--listen', `127.0.0.1:${port}`], 'server');
      await syncNow(page);
      await page.waitForFunction(() => document.getElementById('waiting-count').textContent === '0');
      check(await page.locator('#sync-problem').isHidden(), 'the problem line clears');
    });

    await step('the guard ends the shift and sees the summary', async () => {
      await page.click('#end-shift');
      await page.click('#end-shift-confirm');
      await page.waitForSelector('[data-screen="shiftSummary"]');
      const totals = await page.locator('#shift-totals').textContent();
      check(totals.includes('Checks recorded13'), `13 checks in the summary: ${totals}`);
      await shot(page, '12-shift-summary');
      await page.click('text=Done');
      await syncNow(page);
      await page.waitForFunction(() => document.getElementById('waiting-count').textContent === '0');
    });

    await step('a supervisor\'s phone sees the shift and the incident from the server', async () => {
      const sup = await startListening(BRIDGE, ['--data', join(tmp, 'supervisor')], 'bridge');
      const p2 = await (await browser.newContext(phone)).newPage();
      await p2.goto(sup.url);
      await p2.fill('#setup-server', serverUrl);
      await p2.fill('#setup-code', enrollmentCode(serverData));
      await p2.fill('#setup-device-name', 'Supervisor phone');
      await p2.fill('#setup-username', 'sam.super');
      await p2.fill('#setup-password', 'super-pass-1');
      await p2.fill('#setup-pin', '135790');
      await p2.click('#setup-submit');
      await p2.waitForSelector('[data-screen="home"]');
      await p2.click('#open-shifts');
      await p2.waitForSelector('[data-screen="shifts"]');
      const shifts = await p2.locator('[data-screen="shifts"] .row').allTextContents();
      check(shifts.some((s) => s.includes('13 checks')), `the supervisor sees the 13-check shift: ${shifts}`);
      await shot(p2, '13-supervisor-shifts');
      await p2.click('.back');
      await p2.click('#open-incidents');
      await p2.waitForSelector('[data-screen="incidents"]');
      const rows = await p2.locator('.incident').allTextContents();
      check(rows.some((r) => r.includes('Trespass') && r.includes('North parking lot')), `the supervisor sees the incident: ${rows}`);
      await shot(p2, '14-supervisor-incidents');
      await stop(sup.child);
    });

    await step('the screens lock after inactivity and come back where they were', async () => {
      await stop(bridge.child);
      bridge = await startListening(BRIDGE, ['--data', join(tmp, 'phone'), '--idle-lock-seconds', '3'], 'bridge');
      await page.goto(bridge.url);
      await page.fill('#unlock-pin', PIN);
      await page.click('#unlock-submit');
      await page.waitForSelector('[data-screen="home"]');
      await page.click('#file-incident');
      await page.fill('#incident-location', 'Typed before the lock');
      await page.waitForSelector('[data-screen="unlock"]', { timeout: 15000 });
      await page.fill('#unlock-pin', PIN);
      await page.click('#unlock-submit');
      await page.waitForSelector('[data-screen="incidentForm"]');
      check(await page.inputValue('#incident-location') === 'Typed before the lock', 'the half-written form survives the lock');
    });

    await step('too many wrong PINs lock the phone out with a countdown', async () => {
      await page.click('.back');
      await page.click('#lock');
      await page.waitForSelector('[data-screen="unlock"]');
      for (let i = 0; i < 5 && !(await page.locator('#unlock-submit').isDisabled()); i++) {
        await page.fill('#unlock-pin', `00000${i}`);
        await page.click('#unlock-submit');
        await page.waitForFunction(() => !document.getElementById('unlock-submit').disabled
          || /Try again in/.test(document.querySelector('[role="alert"]')?.textContent ?? ''));
      }
      const msg = await page.locator('[role="alert"]').textContent();
      check(/Try again in \d+ s/.test(msg), `the lockout says how long to wait: ${msg}`);
      check(await page.locator('#unlock-submit').isDisabled(), 'unlock is disabled during the wait');
      await shot(page, '15-lockout');
    });

    await step(`a list of ${LIST} incidents opens fast and scrolls smoothly`, async () => {
      const data = join(tmp, 'officer');
      execFileSync(DEVICE, ['enroll', '--data', data, '--server', serverUrl, '--code', enrollmentCode(serverData), '--username', 'olga.sro', '--password', 'sro-pass-1', '--pin', PIN]);
      const t = Date.now();
      execFileSync(DEVICE, ['fill-incidents', '--data', data, '--pin', PIN, '--count', String(LIST)]);
      log(`     (filed ${LIST} incidents in ${Date.now() - t} ms)`);
      const b = await startListening(BRIDGE, ['--data', data], 'bridge');
      const p3 = await (await browser.newContext(phone)).newPage();
      await p3.goto(b.url);
      await p3.fill('#unlock-pin', PIN);
      await p3.click('#unlock-submit');
      await p3.waitForSelector('[data-screen="home"]');
      await shot(p3, '16-sro-home');
      const opens = [];
      for (let i = 0; i < 5; i++) {
        await p3.click('#open-incidents');
        await p3.waitForSelector('[data-screen="incidents"] .vlist-row');
        opens.push((await waitMarks(p3, 'incidents_list', i + 1))[i]);
        const count = await p3.locator('#incidents-count').textContent();
        check(count.startsWith(`${LIST} `), `the list holds all ${LIST}: ${count}`);
        if (i === 0) await shot(p3, '17-incidents-list');
        await p3.click('.back');
        await p3.waitForSelector('[data-screen="home"]');
      }
      figures.list_open_ms = stats(opens);
      await p3.click('#open-incidents');
      await p3.waitForSelector('[data-screen="incidents"] .vlist-row');
      figures.scroll_frame_ms = await p3.evaluate(() => new Promise((res) => {
        const list = document.querySelector('.vlist');
        const frames = [];
        let last = performance.now();
        const end = last + 3000;
        const tick = (now) => {
          frames.push(now - last);
          last = now;
          list.scrollTop += 240;
          if (now < end) requestAnimationFrame(tick);
          else {
            const s = frames.slice(1).sort((a, b) => a - b);
            res({ frames: s.length, median: +s[Math.floor(s.length / 2)].toFixed(1), p95: +s[Math.floor(s.length * 0.95)].toFixed(1), max: +s[s.length - 1].toFixed(1), rows_in_dom: document.querySelectorAll('.vlist-row').length, scrolled_to: list.scrollTop });
          }
        };
        requestAnimationFrame(tick);
      }));
      check(figures.scroll_frame_ms.rows_in_dom < 60, 'only the rows in view are in the page');
      await p3.waitForFunction(() => !document.querySelector('.vlist .hint'), null, { timeout: 10000 });
      const deep = await p3.locator('.vlist-row .incident').first().getAttribute('data-incident-id');
      check(Boolean(deep), 'rows far down the list load once they are in view');
      await shot(p3, '18-incidents-scrolled');
      await stop(b.child);
    });
  } finally {
    await browser.close();
    for (const c of [...children]) await stop(c, 'SIGKILL');
  }
}

let failed = false;
try {
  await main();
} catch (e) {
  failed = true;
  process.stdout.write(`journey failed: ${e.stack}\n`);
}
process.stdout.write(`\nfigures: ${JSON.stringify(figures, null, 1)}\n`);
writeFileSync(join(here, 'last-run.json'), JSON.stringify({ steps, figures }, null, 1));
rmSync(tmp, { recursive: true, force: true });
const passed = steps.filter((s) => s.ok).length;
process.stdout.write(`test result: ${failed ? 'FAILED' : 'ok'}. ${passed} passed; ${steps.length - passed + (failed && steps.every((s) => s.ok) ? 1 : 0)} failed; (ui journeys)\n`);
process.exit(failed ? 1 : 0);
