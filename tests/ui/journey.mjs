// End-to-end journeys of the field app in a real browser (Debian's chromium driven by
// playwright-core) at a phone's viewport, against the real Rust core (the app's commands
// served by `rounds-app-bridge` on loopback) and a real district server (`rounds-server`).
//
// Journeys: set up (enroll) → lock → wrong PIN → unlock → start a shift → 10 checks (one by
// tag, one with a problem) → sync → file an incident → the server goes away → 3 more checks,
// counted on the status line the instant each is saved, and "No connection" appears without
// moving the screen → it comes back → sync → a supervisor's phone (in de-DE) sees everything
// → an SRO edits the guard's draft and the incident says who wrote what → she writes a
// contact note with a follow-up date, shared with the supervisor, and edits it (a new
// reason and outcome, the follow-up removed; the waiting count grows) → the supervisor reads it as edited,
// with no Edit (only the author edits a note) → the SRO sees that her note reached the
// supervisor's phone (its disclosure log); the screens lock after inactivity and come back refreshed (a check made meanwhile on another phone shows);
// lockout after wrong PINs; a list of 10,000 incidents opens and scrolls. axe-core checks
// every screen on the way (no serious or critical violation) and every control is reached
// with the Tab key.
//
// Binaries come from $CARGO_TARGET_DIR/debug (build them first: scripts/test.sh does).
// Screenshots of each screen go to docs/screens/; timings are printed as a table and written
// to tests/ui/last-run.json.
//
//   ROUNDS_UI_LIST   records in the long list (default 10000)
//   ROUNDS_UI_SHOTS  folder for screenshots (default docs/screens)

import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { mkdtempSync, mkdirSync, writeFileSync, rmSync, readdirSync, readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { tmpdir, homedir } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { steps, log, startListening, stop, step, check, checkAccessible, runJourney } from '../support/harness.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const repo = resolve(here, '..', '..');
const target = process.env.CARGO_TARGET_DIR ?? join(homedir(), '.cache', 'rounds-target');
const bin = (name) => join(target, 'debug', name);
const SERVER = process.env.ROUNDS_SERVER_BIN ?? bin('rounds-server');
// Every bridge is started with `--ui` this checkout's `ui/`: without it, it serves the folder it
// was built from, which may be another checkout's.
const BRIDGE = process.env.ROUNDS_BRIDGE_BIN ?? bin('rounds-app-bridge');
const DEVICE = process.env.ROUNDS_DEVICE_BIN ?? bin('rounds-device');
const LIST = Number(process.env.ROUNDS_UI_LIST ?? 10000);
const SHOTS = resolve(repo, process.env.ROUNDS_UI_SHOTS ?? 'docs/screens');
const PIN = '2468013579';
// A real (tiny) PNG, as a phone's camera would hand over a JPEG.
const PHOTO = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAIAAAACCAIAAAD91JpzAAAAFklEQVR4nGNkYPjPwMDAxMDAwMDAAAANHQEDasKb6QAAAABJRU5ErkJggg==', 'base64');
const PHOTO_HASH = createHash('sha256').update(PHOTO).digest('hex');

const AXE = createRequire(import.meta.url).resolve('axe-core/axe.min.js');
// The guard's draft: December 1st, 08:05 local time, as each locale writes it.
const DRAFT_WHEN = '2025-12-01T08:05';
const DRAFT_WORD = 'Graffitiwall';
// The SRO's contact note: a word to find it by, the outcome she writes, and the one she edits in.
const NOTE_WORD = 'Lunchroomtalk';
const NOTE_OUTCOME = 'Talked it through; she will come back on Friday.';
const NOTE_EDITED = 'Agreed to see the counselor on Monday.';
const NOTE_REASON = `${NOTE_WORD}: a check-in after the argument in the lunch room.`;
const NOTE_REASON_EDITED = `${NOTE_WORD}: a check-in after the argument in the lunch room; she asked for it.`;

const tmp = mkdtempSync(join(tmpdir(), 'rounds-ui-'));
const figures = {};
/** Every response of 400 or more, and console errors, seen by any page: none is allowed. */
const failures = [];

/** A page that records failed responses and console errors into `failures`. */
async function newPage(context, who) {
  const page = await context.newPage();
  page.on('pageerror', (e) => log(`page error (${who}): ${e.message}`));
  page.on('response', (r) => { if (r.status() >= 400 && !r.url().includes('/invoke/')) failures.push(`${who}: ${r.status()} ${r.url()}`); });
  page.on('console', (m) => { if (m.type() === 'error' && !/status of 4\d\d/.test(m.text())) failures.push(`${who}: console error: ${m.text()}`); });
  return page;
}

/** axe-core and the keyboard on the screen as it is (see `accessible` in the harness); a sheet
 * open over the screen is what is checked. */
function accessible(page, screenName) {
  return checkAccessible(page, screenName, { axe: AXE, within: '.sheet' });
}

function serverCli(data, ...args) {
  return execFileSync(SERVER, ['--data', data, ...args], { encoding: 'utf8' });
}

function enrollmentCode(data) {
  return serverCli(data, 'admin', 'enroll-code').trim().split(/\s+/)[0];
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

/** The status line at this instant: the count and its words. */
async function statusNow(page) {
  return page.evaluate(() => ({
    count: document.getElementById('waiting-count').textContent,
    text: document.getElementById('waiting-text').textContent,
  }));
}

/** Sets up a phone through its set-up screen. */
async function enrollPage(page, url, serverData, serverUrl, name, username, password, pin) {
  await page.goto(url);
  await page.fill('#setup-server', serverUrl);
  await page.fill('#setup-code', enrollmentCode(serverData));
  await page.fill('#setup-device-name', name);
  await page.fill('#setup-username', username);
  await page.fill('#setup-password', password);
  await page.fill('#setup-pin', pin);
  await page.click('#setup-submit');
  await page.waitForSelector('[data-screen="home"]');
}

async function syncNow(page) {
  await page.click('#sync-now');
  await page.waitForFunction(() => document.getElementById('sync-now').textContent === 'Sync now');
}

/** Taps Back until the screen `name` shows (each tap waits for the screen it left to go). */
async function backTo(page, name) {
  while (await page.locator(`[data-screen="${name}"]`).count() === 0) {
    await page.evaluate(() => { document.querySelector('[data-screen]').dataset.left = 'yes'; });
    await page.click('.back');
    await page.waitForSelector('[data-left]', { state: 'detached' });
  }
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
  // The guard's phone is in en-US (the default locale); the supervisor's and the second SRO's
  // in de-DE: dates must follow each.
  const phone = { viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, hasTouch: true, isMobile: true, locale: 'en-US' };
  const german = { ...phone, locale: 'de-DE' };
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
    bridge = await startListening(BRIDGE, ['--data', join(tmp, 'phone'), '--ui', join(repo, 'ui')], 'bridge');
    const context = await browser.newContext(phone);
    const page = await newPage(context, 'guard');

    await step('the first screen asks for the server and an enrollment code', async () => {
      const t = Date.now();
      await page.goto(bridge.url);
      await page.waitForSelector('#setup-server');
      figures.first_screen_ms = Date.now() - t;
      await shot(page, '01-setup');
      await accessible(page, 'set-up');
    });

    await step('the page has its icon (no 404 in the browser)', async () => {
      const icon = await page.evaluate(async () => {
        const href = document.querySelector('link[rel="icon"]')?.href;
        if (!href) return null;
        const r = await fetch(href);
        return { status: r.status, type: r.headers.get('content-type') };
      });
      check(icon?.status === 200 && icon.type.startsWith('image/svg'), `the favicon is served: ${JSON.stringify(icon)}`);
      check(failures.length === 0, `no failed request or console error: ${failures.join('; ')}`);
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
      await accessible(page, 'home');
    });

    await step('a wrong PIN is refused with a clear message, the right one unlocks', async () => {
      await page.click('#lock');
      await page.waitForSelector('[data-screen="unlock"]');
      check(await page.locator('#status').isHidden(), 'nothing about the records shows while locked');
      await shot(page, '03-unlock');
      await accessible(page, 'unlock');
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
      await accessible(page, 'round');
    });

    await step('10 checks: all clear in two taps, one by tag code, one with a problem', async () => {
      // By tag: typed (a scanner types the same way) in lower case with spaces for the
      // hyphens, and confirmed; a tag of no checkpoint is refused in words.
      const detail = await page.locator('button.checkpoint').nth(1).locator('.detail').textContent();
      const tag = detail.match(/Tag (\S+)/)[1];
      await page.fill('#tag-input', 'no such tag');
      await page.click('#tag-submit');
      await page.waitForFunction(() => /No checkpoint on this round has the tag/.test(document.querySelector('[data-screen="round"] [role="alert"]')?.textContent ?? ''));
      await page.fill('#tag-input', tag.toLowerCase().replace(/-/g, ' '));
      await page.click('#tag-submit');
      await page.waitForSelector('#check-all-clear');
      const title = await page.locator('#sheet-title').textContent();
      const name = (await page.locator('button.checkpoint').nth(1).locator('.title').textContent()).replace(/^\d+\. /, '');
      check(title === name, `"${tag.toLowerCase().replace(/-/g, ' ')}" opens ${name}, not ${title}`);
      await shot(page, '06-check-sheet');
      await accessible(page, 'check');
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
      const problemBadge = await page.locator('button.checkpoint').nth(2).locator('.badge').textContent();
      check(/ · problem: hazard$/.test(problemBadge), `a check with a problem is told apart from a plain Done: "${problemBadge}"`);
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
      await accessible(page, 'incident');
    });

    await step('with the server gone, three more checks are saved, each counted the instant it is saved', async () => {
      await syncNow(page);
      await page.waitForFunction(() => document.getElementById('waiting-count').textContent === '0');
      await stop(server.child, 'SIGKILL');
      await page.click('.back');
      await page.waitForSelector('[data-screen="home"]');
      await page.click('#continue-round');
      await page.waitForSelector('[data-screen="round"]');
      check(await page.locator('#sync-problem').isHidden(), 'no problem shown yet');
      // Where the list sits with the page scrolled to the top (clicks scroll rows into view).
      const listAt = () => page.evaluate(() => {
        window.scrollTo(0, 0);
        const r = document.getElementById('round-list').getBoundingClientRect();
        return { x: r.x, y: r.y };
      });
      const before = await listAt();
      const expected = ['1 change waiting to sync', '2 changes waiting to sync', '3 changes waiting to sync'];
      for (const [n, i] of [2, 5, 1].entries()) {
        await allClear(page, i);
        // Read at once, with no waiting: the save's own answer carries the count.
        const now = await statusNow(page);
        check(now.count === String(n + 1) && now.text === expected[n], `right after offline save ${n + 1} the status line says "${now.text}" (${now.count})`);
      }
      await syncNow(page);
      await page.waitForFunction(() => /No connection/.test(document.getElementById('sync-problem').textContent));
      check(await page.locator('#sync-problem').isVisible(), 'the problem shows');
      const after = await listAt();
      check(after.y === before.y && after.x === before.x, `the "No connection" box does not move the screen: the list was at y=${before.y}, is at y=${after.y}`);
      check(await waitingCount(page) === 3, 'the three offline checks wait');
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

    await step('the phone says how much its records take, the ended shift compacted', async () => {
      await page.waitForSelector('[data-screen="home"]');
      await page.click('#phone-storage summary');
      const text = await page.locator('#phone-storage').textContent();
      const m = text.match(/for (\d+) records \((\d+) compacted/);
      check(m && Number(m[1]) >= 2 && Number(m[2]) >= 1, `the storage details count the shift and the incident, the ended shift compacted: ${text}`);
      await page.locator('#phone-storage').scrollIntoViewIfNeeded();
      await shot(page, '12b-phone-storage');
    });

    await step('a supervisor\'s phone sees the shift and the incident from the server', async () => {
      const sup = await startListening(BRIDGE, ['--data', join(tmp, 'supervisor'), '--ui', join(repo, 'ui')], 'bridge');
      const p2 = await newPage(await browser.newContext(german), 'supervisor');
      await enrollPage(p2, sup.url, serverData, serverUrl, 'Supervisor phone', 'sam.super', 'super-pass-1', '1357902468');
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
      await p2.close(); // before its bridge stops, so that its polls do not fail
      await stop(sup.child);
    });

    // The second SRO's phone stays open for her contact note (the steps after this one).
    let sro;
    let p5;
    await step('an SRO edits the guard\'s draft, and the incident says who wrote what, in each phone\'s locale', async () => {
      await page.click('#file-incident');
      await page.waitForSelector('[data-screen="incidentForm"]');
      await page.selectOption('#incident-type', 'vandalism');
      await page.fill('#incident-location', 'East stairwell');
      await page.fill('#incident-when', DRAFT_WHEN);
      await page.fill('#incident-narrative', `${DRAFT_WORD} found on the east stairwell.`);
      await page.click('#incident-save-draft');
      await page.waitForSelector('[data-screen="incident"]');
      const usWhen = (await page.locator('#incident-when-text').textContent()).replace(/\s/g, ' ');
      check(usWhen === '12/01/2025, 8:05 AM', `en-US writes December 1st as 12/01/2025: "${usWhen}"`);
      check(await page.locator('#incident-edit').isVisible(), 'the author may edit her draft');
      await syncNow(page);
      await page.waitForFunction(() => document.getElementById('waiting-count').textContent === '0');

      sro = await startListening(BRIDGE, ['--data', join(tmp, 'second-sro'), '--ui', join(repo, 'ui')], 'bridge');
      p5 = await newPage(await browser.newContext(german), 'second SRO');
      await enrollPage(p5, sro.url, serverData, serverUrl, 'SRO phone', 'olga.sro', 'sro-pass-1', '9753108642');
      await p5.click('#file-incident');
      await p5.waitForSelector('[data-screen="incidentForm"]');
      const school = await p5.locator('#incident-school option:checked').textContent();
      check(school === 'Lincoln High School', `the form starts with the officer's first school, not the alphabetical first: ${school}`);
      await accessible(p5, 'incident form');
      await p5.click('.back');
      await p5.click('#open-search');
      await p5.fill('#search-q', DRAFT_WORD);
      await p5.click('#search-go');
      await p5.locator('[data-screen="search"] .row').first().click();
      await p5.waitForSelector('[data-screen="incident"]');
      const deWhen = await p5.locator('#incident-when-text').textContent();
      check(/^01\.12\.2025, 0?8:05$/.test(deWhen), `de-DE writes the same time as 01.12.2025, 8:05: "${deWhen}"`);
      check(await p5.locator('#incident-edit').isVisible(), 'a colleague of the school is offered Edit on the draft');
      await p5.click('#incident-edit');
      await p5.waitForSelector('[data-screen="incidentForm"]');
      await p5.fill('#incident-actions', 'Photographed it; the custodian will clean it.');
      await p5.click('#incident-save-draft');
      await p5.waitForSelector('[data-screen="incident"]');
      const lines = await p5.locator('#incident-history li').allTextContents();
      check(lines.length === 2 && lines[0].startsWith('Created by Gia Guard') && lines[1].startsWith('Edited by Olga Officer'),
        `the incident says who wrote what: ${JSON.stringify(lines)}`);
      check(/01\.12\.2026|\d\d\.\d\d\.\d{4}/.test(lines[1]), `each change's time in de-DE: ${lines[1]}`);
      await shot(p5, '19-colleague-history');
      await syncNow(p5);
      await p5.waitForFunction(() => document.getElementById('waiting-count').textContent === '0');
      check(await p5.locator('#sync-problem').isHidden(), 'the server accepted the colleague\'s edit');
    });

    await step('the SRO writes a contact note with a follow-up, then edits it: a new reason and outcome, no follow-up', async () => {
      // A week from now: among the follow-ups due in the next two weeks.
      const due = new Date(Date.now() + 7 * 86400000).toISOString().slice(0, 10);
      await backTo(p5, 'home');
      await p5.click('#open-notes');
      await p5.waitForSelector('[data-screen="notes"]');
      await p5.click('#new-note');
      await p5.waitForSelector('[data-screen="noteForm"]');
      await p5.fill('#note-student-ref', 'S-2040');
      await p5.fill('#note-student-name', 'Dana Reyes');
      await p5.fill('#note-reason', NOTE_REASON);
      await p5.fill('#note-outcome', NOTE_OUTCOME);
      await p5.fill('#note-follow-up', due);
      await p5.getByLabel('Sam Supervisor').check();
      await p5.click('#note-save');
      await p5.waitForSelector('[data-screen="note"]');
      await backTo(p5, 'notes');
      const row = p5.locator('button.note', { hasText: 'Dana Reyes (S-2040)' });
      check(await row.count() === 1, 'the note is among the follow-ups due');
      const noteId = await row.getAttribute('data-note-id');
      await row.click();
      await p5.waitForSelector('[data-screen="note"]');
      const dueText = await p5.locator('#note-follow-up-text').textContent();
      check(/^\d\d\.\d\d\.\d{4}$/.test(dueText), `the follow-up date, in de-DE: "${dueText}"`);
      check(await p5.locator('#note-edit').isVisible(), 'the author is offered Edit');
      await accessible(p5, 'note');
      await syncNow(p5);
      await p5.waitForFunction(() => document.getElementById('waiting-count').textContent === '0');
      const before = await waitingCount(p5);

      await p5.click('#note-edit');
      await p5.waitForSelector('[data-screen="noteEdit"]');
      check(await p5.inputValue('#note-edit-reason') === NOTE_REASON, 'the form holds the reason');
      check(await p5.inputValue('#note-edit-outcome') === NOTE_OUTCOME, 'the form holds the outcome');
      check(await p5.inputValue('#note-edit-referral') === 'none', 'the form holds the referral');
      check(await p5.inputValue('#note-edit-follow-up') === due, `the form holds the follow-up date: ${await p5.inputValue('#note-edit-follow-up')}`);
      check(!(await p5.isChecked('#note-edit-no-follow-up')), '"No follow-up" is not ticked for a note with a date');
      await accessible(p5, 'note edit');
      await p5.fill('#note-edit-reason', NOTE_REASON_EDITED);
      await p5.fill('#note-edit-outcome', NOTE_EDITED);
      await p5.check('#note-edit-no-follow-up');
      check(await p5.inputValue('#note-edit-follow-up') === '', '"No follow-up" empties the date');
      await shot(p5, '20-note-edit');
      // Every count the status line shows from here on.
      await p5.evaluate(() => {
        const el = document.getElementById('waiting-count');
        globalThis.seenCounts = [];
        new MutationObserver(() => globalThis.seenCounts.push(Number(el.textContent)))
          .observe(el, { childList: true, characterData: true, subtree: true });
      });
      const answered = p5.waitForResponse((r) => r.url().endsWith('/invoke/edit_note'));
      await p5.click('#note-edit-save');
      const answer = await answered;
      await p5.waitForSelector('[data-screen="note"]');
      const sent = answer.request().postDataJSON();
      check(JSON.stringify(sent) === JSON.stringify({ id: noteId, reason: NOTE_REASON_EDITED, outcome: NOTE_EDITED, follow_up_on: null }),
        `edit_note gets only what changed, the date as null: ${JSON.stringify(sent)}`);
      check(await p5.locator('#note-reason-text').textContent() === NOTE_REASON_EDITED, 'the note shows the new reason');
      check(await p5.locator('#note-outcome-text').textContent() === NOTE_EDITED, 'the note shows the new outcome');
      check(await p5.locator('#note-follow-up-text').textContent() === 'No follow-up', 'the note has no follow-up date');
      check(await p5.locator('#note-referral-text').textContent() === 'No referral', 'the referral is unchanged');
      const sync = (await answer.json()).sync;
      const seen = await p5.evaluate(() => globalThis.seenCounts);
      check(sync.waiting_changes > before && seen.includes(sync.waiting_changes + (sync.waiting_photos ?? 0)),
        `the waiting count grew from ${before} with the edit (the answer said ${sync.waiting_changes}; the status line showed ${JSON.stringify(seen)})`);
      await shot(p5, '21-note-edited');

      // Edit again: the form holds the note as saved; an outcome too long is refused in the
      // form, which keeps what was typed.
      await p5.click('#note-edit');
      await p5.waitForSelector('[data-screen="noteEdit"]');
      check(await p5.inputValue('#note-edit-outcome') === NOTE_EDITED, 'the form holds the new outcome');
      check(await p5.isChecked('#note-edit-no-follow-up') && await p5.inputValue('#note-edit-follow-up') === '', '"No follow-up" is ticked for a note without a date');
      const long = 'x'.repeat(5001);
      await p5.fill('#note-edit-outcome', long);
      await p5.click('#note-edit-save');
      await p5.waitForFunction(() => /5000/.test(document.querySelector('[data-screen="noteEdit"] [role="alert"]')?.textContent ?? ''));
      check(await p5.inputValue('#note-edit-outcome') === long, 'the refused outcome is still in the form');
      check(await p5.locator('#note-edit-outcome.field-error').count() === 1, 'the outcome is marked as the field in error');
      await p5.click('.back');
      await p5.waitForSelector('[data-screen="note"]');
      check(await p5.locator('#note-outcome-text').textContent() === NOTE_EDITED, 'Back from the refused edit: the note as saved');
      // Back shows the list, where the note, no longer to follow up, is not due.
      await p5.click('.back');
      await p5.waitForSelector('[data-screen="notes"]');
      check(await p5.locator(`button.note[data-note-id="${noteId}"]`).count() === 0, 'the note is no longer among the follow-ups due');
      await syncNow(p5);
      await p5.waitForFunction(() => document.getElementById('waiting-count').textContent === '0');
      check(await p5.locator('#sync-problem').isHidden(), 'the server accepted the edit');
      await p5.close();
      await stop(sro.child);
    });

    await step('the supervisor the note is shared with reads it as edited, and is not offered Edit', async () => {
      const sup = await startListening(BRIDGE, ['--data', join(tmp, 'supervisor'), '--ui', join(repo, 'ui')], 'bridge');
      const p6 = await newPage(await browser.newContext(german), 'supervisor');
      await p6.goto(sup.url);
      await p6.fill('#unlock-pin', '1357902468');
      await p6.click('#unlock-submit');
      await p6.waitForSelector('[data-screen="home"]');
      await syncNow(p6);
      await p6.click('#open-search');
      await p6.fill('#search-q', NOTE_WORD);
      await p6.click('#search-go');
      await p6.locator('[data-screen="search"] .row').first().click();
      await p6.waitForSelector('[data-screen="note"]');
      check(await p6.locator('#note-reason-text').textContent() === NOTE_REASON_EDITED, 'the supervisor reads the edited reason');
      check(await p6.locator('#note-outcome-text').textContent() === NOTE_EDITED, 'the supervisor reads the edited outcome');
      check(await p6.locator('#note-follow-up-text').textContent() === 'No follow-up', 'and no follow-up date');
      check(await p6.locator('#note-edit').count() === 0, 'a reader who is not the author is offered no Edit');
      await shot(p6, '22-note-shared');
      await p6.close();
      await stop(sup.child);
    });

    await step('the SRO sees that her note reached the supervisor\'s phone', async () => {
      const again = await startListening(BRIDGE, ['--data', join(tmp, 'second-sro'), '--ui', join(repo, 'ui')], 'bridge');
      const p7 = await newPage(await browser.newContext(german), 'second SRO again');
      await p7.goto(again.url);
      await p7.fill('#unlock-pin', '9753108642');
      await p7.click('#unlock-submit');
      await p7.waitForSelector('[data-screen="home"]');
      await p7.click('#open-search');
      await p7.fill('#search-q', NOTE_WORD);
      await p7.click('#search-go');
      await p7.locator('[data-screen="search"] .row').first().click();
      await p7.waitForSelector('[data-screen="note"]');
      await p7.click('#note-disclosures-ask');
      await p7.waitForSelector('#note-disclosures li');
      const lines = await p7.locator('#note-disclosures li').allTextContents();
      check(lines.length === 1 && lines[0].startsWith('Sam Supervisor, on their phone'), `who received it: ${JSON.stringify(lines)}`);
      await accessible(p7, 'note with its disclosures');
      await shot(p7, '23-note-disclosures');
      await p7.close();
      await stop(again.child);
    });

    await step('the screens lock after inactivity and come back where they were', async () => {
      await page.goto('about:blank'); // its polls must not hit the stopped bridge
      await stop(bridge.child);
      bridge = await startListening(BRIDGE, ['--data', join(tmp, 'phone'), '--idle-lock-seconds', '3', '--ui', join(repo, 'ui')], 'bridge');
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

    await step('after an idle lock the round comes back with a check made meanwhile on another phone', async () => {
      await page.click('.back');
      await page.waitForSelector('[data-screen="home"]');
      await page.locator('button.start-shift').first().click();
      await page.waitForSelector('[data-screen="round"]');
      await syncNow(page);
      await page.waitForFunction(() => document.getElementById('waiting-count').textContent === '0');
      const first = page.locator('button.checkpoint').first();
      const id = await first.getAttribute('data-checkpoint-id');
      const was = await first.getAttribute('data-status');
      check(!['done', 'late'].includes(was), `the checkpoint is not done yet: ${was}`);
      await page.waitForSelector('[data-screen="unlock"]', { timeout: 15000 });
      // Meanwhile the same guard checks it on a second phone, which syncs.
      const other = await startListening(BRIDGE, ['--data', join(tmp, 'second-phone'), '--ui', join(repo, 'ui')], 'bridge');
      const p4 = await newPage(await browser.newContext(phone), 'second phone');
      await enrollPage(p4, other.url, serverData, serverUrl, 'Second post phone', 'gia.guard', 'guard-pass-1', PIN);
      await p4.click('#continue-round');
      await p4.waitForSelector('[data-screen="round"]');
      await p4.click(`button.checkpoint[data-checkpoint-id="${id}"]`);
      await p4.click('#check-all-clear');
      await p4.waitForSelector('.sheet', { state: 'detached' });
      await syncNow(p4);
      await p4.waitForFunction(() => document.getElementById('waiting-count').textContent === '0');
      await p4.close();
      await stop(other.child);
      await page.fill('#unlock-pin', PIN);
      await page.click('#unlock-submit');
      await page.waitForSelector('[data-screen="round"]');
      await page.waitForFunction((cp) => ['done', 'late'].includes(document.querySelector(`button.checkpoint[data-checkpoint-id="${cp}"]`)?.dataset.status), id, { timeout: 10000 });
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
      const b = await startListening(BRIDGE, ['--data', data, '--ui', join(repo, 'ui')], 'bridge');
      const p3 = await newPage(await browser.newContext(phone), 'officer');
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
      await p3.close();
      await stop(b.child);
    });
    await step('no page failed a request or logged an error', async () => {
      check(failures.length === 0, failures.join('\n      '));
    });
  } finally {
    await browser.close();
  }
}

await runJourney('ui journeys', main, {
  figures,
  pretty: true,
  done: () => {
    writeFileSync(join(here, 'last-run.json'), JSON.stringify({ steps, figures }, null, 1));
    rmSync(tmp, { recursive: true, force: true });
  },
});
