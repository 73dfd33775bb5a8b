// The supervisor console's journey in a real browser (Debian's chromium driven by
// playwright-core) against the real `rounds-server` binary: the demo district
// (`rounds-server admin seed-demo`) plus yesterday's field work pushed through the real sync
// client by four phones (`cargo run -p rounds-server --example console_day -- seed ...`).
//
// Steps: sign-in page → a guard is refused → the supervisor signs in → day view (exceptions
// stand out) → a school's rounds → incidents list and filter → an incident's detail and
// history → return it with a comment → the SRO's phone gets it at its next sync → shared
// notes only → reports, the CSV downloaded and parsed, the PDF downloaded and rendered with
// pdftoppm → sign out → the administrator's pages (enrollment code, a new school, revoking a
// device, the audit trail searched by kind). On every page axe-core must find no serious or
// critical violation, and every control
// must be labelled and reached with Tab. Screenshots of each page go to
// docs/screens/console-*.png. The last line is a
// libtest-style `test result:` line for scripts/test.sh's tally.
//
// Binaries come from $CARGO_TARGET_DIR/debug (scripts/test.sh builds them).
//   ROUNDS_CONSOLE_SHOTS  folder for screenshots (default docs/screens)

import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { mkdtempSync, mkdirSync, rmSync, readFileSync, existsSync } from 'node:fs';
import { tmpdir, homedir } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { log, startListening, stop, step, check, checkAccessible, runJourney } from '../support/harness.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const repo = resolve(here, '..', '..');
const target = process.env.CARGO_TARGET_DIR ?? join(homedir(), '.cache', 'rounds-target');
const SERVER = process.env.ROUNDS_SERVER_BIN ?? join(target, 'debug', 'rounds-server');
const DAY = process.env.ROUNDS_DAY_BIN ?? join(target, 'debug', 'examples', 'console_day');
const SHOTS = resolve(repo, process.env.ROUNDS_CONSOLE_SHOTS ?? 'docs/screens');

const tmp = mkdtempSync(join(tmpdir(), 'rounds-console-'));
const figures = {};

const AXE = createRequire(import.meta.url).resolve('axe-core/axe.min.js');

/** axe-core finds no serious or critical violation, and every control is labelled and reached
 * with Tab (see the harness). */
function accessible(page, screenName) {
  return checkAccessible(page, screenName, { axe: AXE });
}

async function shot(page, name, fullPage = true) {
  await page.screenshot({ path: join(SHOTS, `console-${name}.png`), fullPage });
}

/** RFC 4180 CSV (quoted fields, doubled quotes, CRLF). */
function parseCsv(text) {
  const rows = [];
  let row = [];
  let cur = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') { cur += '"'; i++; } else if (c === '"') quoted = false; else cur += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') { row.push(cur); cur = ''; }
    else if (c === '\r') { /* part of CRLF */ }
    else if (c === '\n') { row.push(cur); rows.push(row); row = []; cur = ''; }
    else cur += c;
  }
  if (cur !== '' || row.length) { row.push(cur); rows.push(row); }
  return rows;
}

async function signIn(page, base, username, password) {
  await page.goto(`${base}/console/login`);
  await page.fill('input[name=username]', username);
  await page.fill('input[name=password]', password);
  return Promise.all([page.waitForNavigation(), page.click('button[type=submit]')]).then(([r]) => r);
}

async function main() {
  mkdirSync(SHOTS, { recursive: true });
  const yesterday = new Date(Date.now() - 86400000).toISOString().slice(0, 10);
  const serverData = join(tmp, 'server');
  const phones = join(tmp, 'phones');
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
  });
  let server;
  let ids;
  try {
    await step('district server starts with the demo district and a day of field work', async () => {
      execFileSync(SERVER, ['--data', serverData, 'admin', 'seed-demo']);
      server = await startListening(SERVER, ['--data', serverData, 'serve', '--listen', '127.0.0.1:0'], 'server');
      const out = execFileSync(DAY, ['seed', server.url, yesterday, phones], { encoding: 'utf8' });
      ids = JSON.parse(out.trim().split('\n').pop());
      check(ids.fight && ids.shift, `seeded ids: ${out}`);
    });
    const base = server.url;
    // bypassCSP only lets the test inject axe-core: the console's pages allow no script at all.
    const context = await browser.newContext({ viewport: { width: 1280, height: 860 }, acceptDownloads: true, locale: 'en-GB', bypassCSP: true });
    const page = await context.newPage();
    page.on('pageerror', (e) => log(`page error: ${e.message}`));

    await step('a page without a session leads to the sign-in page', async () => {
      await page.goto(`${base}/console/day`);
      check(page.url().endsWith('/console/login'), `at ${page.url()}`);
      await shot(page, 'login', false);
      await accessible(page, 'login');
    });

    await step('a guard cannot sign in to the console', async () => {
      const r = await signIn(page, base, 'gia.guard', 'guard-pass-1');
      check(r.status() === 403, `status ${r.status()}`);
      check((await page.textContent('main')).includes('supervisors and administrators'), 'says why');
      await shot(page, 'forbidden', false);
      await accessible(page, 'forbidden');
      const cookies = await context.cookies();
      check(!cookies.some((c) => c.name === 'rounds_console'), 'no session cookie for a guard');
    });

    await step('the supervisor signs in; the cookie is HttpOnly and SameSite=Strict', async () => {
      const t = Date.now();
      await signIn(page, base, 'sam.super', 'super-pass-1');
      figures.sign_in_ms = Date.now() - t;
      check(page.url().includes('/console/day'), `at ${page.url()}`);
      const c = (await context.cookies()).find((x) => x.name === 'rounds_console');
      check(c && c.httpOnly && c.sameSite === 'Strict' && c.path === '/console', JSON.stringify(c));
    });

    await step('day view: every shift by school, exceptions stand out', async () => {
      const t = Date.now();
      await page.goto(`${base}/console/day?date=${yesterday}`);
      figures.day_view_ms = Date.now() - t;
      const gia = page.locator(`#shift-${ids.shift}`);
      check((await gia.getAttribute('class')) === 'exception', 'Gia\'s shift with a missed and a late visit stands out');
      check((await page.locator(`#shift-${ids.clean_shift}`).getAttribute('class')) === 'ok', 'Gus\'s clean round does not');
      const cells = await gia.locator('td').allTextContents();
      // guard, post, shift, checks, on time, late, missed, due, problems, notes, photos
      check(cells.slice(0, 9).join('|') === 'Gia Guard|Lincoln main building|8:00 AM–12:00 PM|23|22|1|1|0|1', cells.join('|'));
      check(!(await page.textContent('main')).includes('Baker'), 'Baker is not Sam\'s school');
      await shot(page, 'day');
      await accessible(page, 'day');
    });

    await step('a school\'s day: each checkpoint\'s visits, notes and photo counts', async () => {
      await page.click('section.school h3 a:has-text("Lincoln High School")');
      await page.waitForSelector('details.round');
      const cells = await page.locator(`#shift-${ids.shift} td`).allTextContents();
      check(cells[10] === '1', `one photo on Gia's checks: ${cells.join('|')}`);
      check(await page.locator('.visit.missed:has-text("9:00 AM: missed")').count() === 1, 'the missed boiler-room visit');
      check(await page.locator('.visit.late:has-text("10:00 AM: late at 10:24 AM")').count() === 1, 'the late gym visit');
      check((await page.textContent('ul.notes')).includes('Pallets blocking the loading dock exit'), 'the hazard note');
      const img = page.locator(`a.thumb img[src*="${ids.photo}"]`);
      await img.waitFor();
      check(await img.evaluate((el) => el.complete && el.naturalWidth > 0), 'the photo the guard took is shown');
      await shot(page, 'day-school');
      await accessible(page, 'day-school');
    });

    await step('incidents: list, filter by status and school', async () => {
      await page.goto(`${base}/console/incidents`);
      const text = await page.textContent('table.incidents');
      check(text.includes('Cafeteria') && text.includes('Bus loop') && text.includes('North parking lot'), 'Sam\'s schools\' incidents');
      check(!text.includes('Playground'), 'not Baker\'s');
      await page.selectOption('select[name=status]', 'submitted');
      await page.selectOption('select[name=school]', { label: 'Lincoln High School' });
      await Promise.all([page.waitForNavigation(), page.click('form.filters button')]);
      const rows = await page.locator('table.incidents tbody tr').count();
      check(rows === 1, `one submitted incident at Lincoln, got ${rows}`);
      await shot(page, 'incidents');
      await accessible(page, 'incidents');
    });

    await step('an incident\'s detail with its history; the supervisor returns it with a comment', async () => {
      await page.goto(`${base}/console/incidents/${ids.fight}`);
      const hist = await page.textContent('table.history');
      check(hist.includes('Incident created') && hist.includes('Submitted for review') && hist.includes('olga.sro phone'), hist);
      await shot(page, 'incident');
      await accessible(page, 'incident');
      await page.fill('textarea[name=comment]', 'Please add the names of the staff who helped.');
      await Promise.all([page.waitForNavigation(), page.click('button[value=return]')]);
      check((await page.textContent('.badge')).trim() === 'Returned', 'status returned');
      const after = await page.textContent('table.history');
      check(after.includes('Reviewed') && after.includes('console (Sam Supervisor)') && after.includes('status submitted → returned'), after);
      await shot(page, 'incident-returned');
    });

    await step('the SRO\'s phone gets the return at its next sync', async () => {
      const out = execFileSync(DAY, ['pull', base, phones, ids.fight], { encoding: 'utf8' });
      const v = JSON.parse(out.trim().split('\n').pop());
      check(v.status === 'returned', out);
      check(v.review_comment === 'Please add the names of the staff who helped.', out);
    });

    await step('shared notes: only the note shared with the supervisor', async () => {
      await page.goto(`${base}/console/notes`);
      const text = await page.textContent('main');
      check(text.includes('Riley Student'), 'the shared note');
      check(!text.includes('Casey Private'), 'not the unshared one');
      await shot(page, 'notes');
      await accessible(page, 'notes');
    });

    await step('reports: the CSV downloads and parses, with incidents by reporting category', async () => {
      await page.goto(`${base}/console/reports?date=${yesterday}`);
      await shot(page, 'reports');
      await accessible(page, 'reports');
      const [dl] = await Promise.all([page.waitForEvent('download'), page.click('#csv')]);
      const file = join(tmp, 'report.csv');
      await dl.saveAs(file);
      const rows = parseCsv(readFileSync(file, 'utf8'));
      const head = rows[0];
      const lincoln = rows.find((r) => r[1] === 'Lincoln High School');
      const col = (name) => head.indexOf(name);
      check(lincoln[col('Checks')] === '23' && lincoln[col('Visits late')] === '1' && lincoln[col('Visits missed')] === '1', lincoln.join(','));
      check(lincoln[col('Physical attack or fight')] === '1', 'the fight counts as a physical attack or fight');
      const adams = rows.find((r) => r[1] === 'Adams Middle School');
      check(adams[col('Vandalism')] === '1', 'the graffiti counts as vandalism');
      check(rows[rows.length - 1][1] === 'Total' && rows[rows.length - 1][col('Shifts')] === '2', 'a total row');
      check(rows.every((r) => r.length === head.length), 'every row has every column');
    });

    await step('reports: the district PDF downloads and renders', async () => {
      const [dl] = await Promise.all([page.waitForEvent('download'), page.click('#pdf')]);
      const file = join(tmp, 'report.pdf');
      await dl.saveAs(file);
      check(readFileSync(file).subarray(0, 5).toString() === '%PDF-', 'a PDF');
      execFileSync('pdftoppm', ['-png', '-r', '70', '-f', '1', '-l', '1', file, join(SHOTS, 'console-report-pdf')]);
      const png = [join(SHOTS, 'console-report-pdf-1.png'), join(SHOTS, 'console-report-pdf-01.png')].find(existsSync);
      check(png, 'pdftoppm rendered the first page');
      const info = execFileSync('pdfinfo', [file], { encoding: 'utf8' });
      check(/Pages:\s+1/.test(info) && info.includes('Daily activity report'), info);
      const text = execFileSync('pdftotext', ['-enc', 'UTF-8', file, '-'], { encoding: 'utf8' });
      check(text.includes('Lincoln High School') && text.includes('Shifts with exceptions') && !text.includes('(s)'), text);
    });

    await step('sign out ends the session', async () => {
      await Promise.all([page.waitForNavigation(), page.click('header form button')]);
      await page.goto(`${base}/console/day`);
      check(page.url().endsWith('/console/login'), `at ${page.url()}`);
    });

    await step('the supervisor cannot open the admin pages', async () => {
      await signIn(page, base, 'sam.super', 'super-pass-1');
      const r = await page.goto(`${base}/console/admin`);
      check(r.status() === 403, `status ${r.status()}`);
      await page.goto(`${base}/console/day`);
      await Promise.all([page.waitForNavigation(), page.click('header form button')]);
    });

    await step('admin: an enrollment code, a new school, a device revoked, a person\'s page', async () => {
      await signIn(page, base, 'admin', 'admin-pass-1');
      await page.goto(`${base}/console/admin`);
      await Promise.all([page.waitForNavigation(), page.click('form[action="/console/admin/codes"] button')]);
      const code = await page.textContent('#enrollment-code');
      check(/^[A-Z2-9]{4}-[A-Z2-9]{4}-[A-Z2-9]{4}$/.test(code), `code ${code}`);
      await page.fill('form[action="/console/admin/schools"] input[name=name]', 'Jefferson High <School>');
      await Promise.all([page.waitForNavigation(), page.click('form[action="/console/admin/schools"] button')]);
      check((await page.textContent('#schools')).includes('Jefferson High <School>'), 'the new school, shown as text');
      const row = page.locator('#devices tr', { hasText: 'gus.guard phone' });
      await Promise.all([page.waitForNavigation(), row.locator('button').click()]);
      const after = await page.locator('#devices tr', { hasText: 'gus.guard phone' }).locator('td').nth(3).textContent();
      check(after.includes('UTC'), 'revoked, with its time');
      await shot(page, 'admin');
      await accessible(page, 'admin');
      await Promise.all([page.waitForNavigation(), page.locator('#people tr', { hasText: 'gia.guard' }).locator('a').click()]);
      const chosen = await page.locator('select[name=school] option:checked').allTextContents();
      check(chosen.join() === 'Lincoln High School', `Gia's schools: ${chosen}`);
      await shot(page, 'admin-person', false);
      await accessible(page, 'admin-person');
    });

    await step('admin: the audit trail shows the admin\'s changes and the revocation, and records the search', async () => {
      await page.goto(`${base}/console/admin`);
      await Promise.all([page.waitForNavigation(), page.click('a[href="/console/admin/audit"]')]);
      const all = await page.textContent('table.audit');
      check(all.includes('Device revoked') && all.includes('Admin change'), 'the revocation and the changes');
      await page.selectOption('select[name=kind]', 'admin_change');
      await Promise.all([page.waitForNavigation(), page.click('form.filters button')]);
      const kinds = await page.locator('table.audit tbody tr td:nth-child(3)').allTextContents();
      check(kinds.length > 0 && kinds.every((k) => k === 'Admin change'), `only admin changes: ${kinds}`);
      check((await page.textContent('table.audit')).includes('"what":"school"'), 'the new school');
      await shot(page, 'audit');
      await accessible(page, 'audit');
      await page.goto(`${base}/console/admin/audit?kind=audit_viewed`);
      const views = await page.locator('table.audit tbody tr').count();
      check(views >= 2, `the searches themselves are in the trail (${views})`);
    });
  } finally {
    await browser.close();
  }
}

await runJourney('console journey', main, {
  figures,
  done: () => rmSync(tmp, { recursive: true, force: true }),
});
