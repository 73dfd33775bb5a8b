// Tests of the UI's own logic: `node --test ui/test/`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  roundModel, syncLine, visibleWindow, unlockMessage, idleRemaining, ago, label,
  INCIDENT_TYPES, formatWait, dateTime, calendarDate, shortTime, deviceLocale, historyLines,
  pinHint, mayEditNote, noteEditArgs, byteSize, storageLines, wipedNotice, disclosureLines,
} from '../js/logic.js';

/** Intl writes a narrow no-break space before AM/PM in recent ICU versions. */
const plain = (s) => s.replace(/\s/g, ' ');

const visit = (status, checked_at = null) => ({ due_at: '2026-11-30T08:00:00Z', status, check_id: null, checked_at });

test('the round lists checkpoints in round order with their status in words', () => {
  const shift = {
    ended_at: null,
    summary: { done: 1, late: 1, missed: 0, due: 1 },
    round: [
      { checkpoint_id: 'b', name: 'Gym', tag_code: 'T2', position: 2, status: 'due', visits: [visit('due')] },
      { checkpoint_id: 'a', name: 'Door', tag_code: 'T1', position: 1, status: 'done', visits: [visit('done', '2026-11-30T08:03:00Z')] },
      { checkpoint_id: 'c', name: 'Roof', tag_code: 'T3', position: 3, status: 'late', visits: [visit('late', '2026-11-30T08:40:00Z')] },
    ],
  };
  const m = roundModel(shift);
  assert.deepEqual(m.rows.map((r) => r.id), ['a', 'b', 'c']);
  assert.equal(m.rows[0].statusText, 'Done');
  assert.equal(m.rows[0].lastChecked, '2026-11-30T08:03:00Z');
  assert.equal(m.rows[1].attention, true, 'a due checkpoint stands out');
  assert.equal(m.rows[2].statusText, 'Done late');
  assert.equal(m.summary, '1 done · 1 late · 1 due now');
});

test('the status line counts what waits and says when the last sync was', () => {
  const now = new Date('2026-11-30T10:00:00Z');
  const line = syncLine({ waiting_changes: 3, syncing: false, last_success: '2026-11-30T09:55:00Z', problem: null }, now);
  assert.equal(line.waiting, '3 changes waiting to sync');
  assert.equal(line.last, 'Last sync: 5 min ago');
  assert.equal(syncLine({ waiting_changes: 1, syncing: true, last_success: null, problem: null }, now).waiting, '1 change waiting to sync');
  const both = syncLine({ waiting_changes: 2, waiting_photos: 1, syncing: false, last_success: null, problem: null }, now);
  assert.equal(both.waiting, '2 changes and 1 photo waiting to sync');
  assert.equal(both.count, 3, 'photos count as waiting too');
  assert.equal(syncLine({ waiting_changes: 0, waiting_photos: 0, syncing: false, last_success: null, problem: null }, now).waiting, 'Nothing waiting to sync');
  const shared = syncLine({
    waiting_changes: 0, waiting_photos: 0, syncing: false, last_success: null, problem: null,
    waiting_for_others: [{ person: 'p', name: 'Gia Guard', changes: 5, documents: 2 }, { person: 'q', name: null, changes: 1, documents: 1 }],
  }, now);
  assert.equal(shared.count, 0, 'the count is the unlocked person\'s own');
  assert.equal(shared.waiting, 'Nothing waiting to sync; also waiting, made by others on this phone: Gia Guard (2 records), someone no longer on this phone (1 record)');
  assert.equal(syncLine({ waiting_changes: 0, syncing: false, last_success: null, problem: { kind: 'revoked', message: 'This device was revoked' } }, now).problem, 'This device was revoked');
  assert.equal(ago(null, now), 'never');
});

test('the virtual list draws only the rows in view, plus a margin', () => {
  assert.deepEqual(visibleWindow(0, 600, 60, 10000, 5), { start: 0, end: 16 });
  assert.deepEqual(visibleWindow(60000, 600, 60, 10000, 5), { start: 995, end: 1016 });
  assert.deepEqual(visibleWindow(600000, 600, 60, 10000, 5), { start: 9995, end: 10000 }, 'clamped at the end');
  assert.deepEqual(visibleWindow(0, 600, 60, 0), { start: 0, end: 0 });
  assert.deepEqual(visibleWindow(-50, 600, 60, 3, 5), { start: 0, end: 3 }, 'overscroll bounce');
});

test('a checkpoint checked with a problem says so in words, not only in colour', () => {
  const done = (id) => ({ due_at: '2026-11-30T08:00:00Z', status: 'done', check_id: id, checked_at: '2026-11-30T08:03:00Z' });
  const shift = {
    ended_at: null,
    summary: { done: 2, late: 0, missed: 0, due: 0 },
    checks: [
      { id: 'k1', checkpoint_id: 'a', result: 'unsecured' },
      { id: 'k2', checkpoint_id: 'b', result: 'all_clear' },
    ],
    round: [
      { checkpoint_id: 'a', name: 'Door', tag_code: 'T1', position: 1, status: 'done', visits: [done('k1')] },
      { checkpoint_id: 'b', name: 'Gym', tag_code: 'T2', position: 2, status: 'done', visits: [done('k2')] },
    ],
  };
  const [door, gym] = roundModel(shift).rows;
  assert.equal(door.statusText, 'Done · problem: unsecured');
  assert.equal(door.problem, 'unsecured');
  assert.equal(gym.statusText, 'Done', 'an all-clear check is a plain Done');
  assert.equal(gym.problem, null);
});

test('dates and times are written in the device locale, en-US when it has none', () => {
  const dec1 = new Date(2026, 11, 1, 14, 5).toISOString(); // December 1st, 14:05 local time
  assert.equal(plain(dateTime(dec1, 'en-US')), '12/01/2026, 2:05 PM');
  assert.equal(dateTime(dec1, 'de-DE'), '01.12.2026, 14:05');
  assert.equal(dateTime(dec1, 'en-GB'), '01/12/2026, 14:05');
  assert.equal(calendarDate('2026-12-01', 'en-US'), '12/01/2026', 'a follow-up date is a day, in every time zone');
  assert.equal(calendarDate('2026-12-01', 'de-DE'), '01.12.2026');
  assert.equal(plain(shortTime(dec1, new Date(2026, 11, 1, 18, 0), 'en-US')), '2:05 PM', 'today: the time alone');
  assert.equal(shortTime(dec1, new Date(2026, 11, 1, 18, 0), 'de-DE'), '14:05');
  assert.match(plain(shortTime(dec1, new Date(2026, 11, 20), 'en-US')), /^Dec 1, 2:05 PM$/);
  const had = Object.getOwnPropertyDescriptor(globalThis, 'navigator');
  try {
    Object.defineProperty(globalThis, 'navigator', { value: { language: 'de-DE' }, configurable: true });
    assert.equal(deviceLocale(), 'de-DE');
    assert.equal(dateTime(dec1), '01.12.2026, 14:05', 'the device locale is the default');
    Object.defineProperty(globalThis, 'navigator', { value: {}, configurable: true });
    assert.equal(deviceLocale(), 'en-US');
    assert.equal(plain(dateTime(dec1)), '12/01/2026, 2:05 PM');
  } finally {
    if (had) Object.defineProperty(globalThis, 'navigator', had);
    else delete globalThis.navigator;
  }
});

test('the history says who made each change', () => {
  const lines = historyLines([
    { at: '2026-12-01T08:00:00Z', action: 'create_incident', by: 'g', by_name: 'Gia Guard' },
    { at: '2026-12-01T09:00:00Z', action: 'edit_incident', by: 'o', by_name: 'Olga Officer' },
    { at: '2026-12-01T09:30:00Z', action: 'edit_incident', by: null, by_name: null },
  ], 'en-US');
  assert.deepEqual(lines.map((l) => l.what), ['Created by Gia Guard', 'Edited by Olga Officer', 'Edited by someone not known to this phone']);
  assert.match(lines[0].when, /^12\/01\/2026, /);
});

test('a wrong PIN and a lockout read differently', () => {
  const now = new Date('2026-11-30T10:00:00Z');
  assert.equal(unlockMessage({ kind: 'wrong_pin' }, now), 'Wrong PIN. Check it and try again.');
  assert.equal(unlockMessage({ kind: 'wrong_pin', retry_at: '2026-11-30T10:00:30Z' }, now), 'Wrong PIN. Try again in 30 s.');
  assert.equal(unlockMessage({ kind: 'locked_out', retry_at: '2026-11-30T10:02:00Z' }, now), 'Too many wrong attempts. Try again in 2 min.');
  assert.equal(formatWait(61), '2 min');
});

test('the idle countdown never goes below zero', () => {
  assert.equal(idleRemaining(0, 10_000, 300), 290);
  assert.equal(idleRemaining(0, 1_000_000, 300), 0);
});

test('every incident type has a label', () => {
  for (const code of ['fight_assault', 'weapon', 'threat', 'other']) {
    assert.notEqual(label(INCIDENT_TYPES, code), code);
  }
});

test('the new-PIN hint states the rule, with the numbers from the app', () => {
  assert.equal(
    pinHint({ min_digits: 10, min_with_letters: 7 }),
    'At least 10 digits, or a passphrase of at least 7 characters with letters in it. You unlock the app with it, even with no signal.',
  );
  assert.equal(pinHint(undefined), '', 'no rule known yet: no hint rather than a wrong one');
});

const noteView = (body = {}) => ({
  header: { id: 'n1', author_id: 'olga' },
  body: { reason: 'Asked about a fight.', outcome: 'Talked it through.', referral: 'none', follow_up_on: '2026-12-08', ...body },
});

test('only the author of a note is offered Edit', () => {
  assert.equal(mayEditNote(noteView(), 'olga'), true);
  assert.equal(mayEditNote(noteView(), 'sam'), false, 'a person it is shared with reads it only');
  assert.equal(mayEditNote(noteView(), undefined), false, 'nobody unlocked: no Edit');
  assert.equal(mayEditNote({ header: {} }, undefined), false, 'no author and no one unlocked is not a match');
});

test('a note edit sends only what changed; an emptied follow-up date sends null', () => {
  const same = { reason: 'Asked about a fight.', outcome: 'Talked it through.', referral: 'none', follow_up_on: '2026-12-08' };
  assert.equal(noteEditArgs(noteView(), same), null, 'nothing changed: nothing to send');
  assert.deepEqual(noteEditArgs(noteView(), { ...same, outcome: 'Agreed to see the counselor.' }),
    { id: 'n1', outcome: 'Agreed to see the counselor.' }, 'the unchanged referral and date are left out');
  assert.deepEqual(noteEditArgs(noteView(), { ...same, follow_up_on: '' }), { id: 'n1', follow_up_on: null },
    'an emptied date clears the follow-up');
  assert.deepEqual(noteEditArgs(noteView(), { ...same, follow_up_on: '2026-12-15', referral: 'counselor' }),
    { id: 'n1', referral: 'counselor', follow_up_on: '2026-12-15' });
  assert.deepEqual(noteEditArgs(noteView(), { ...same, outcome: '' }), { id: 'n1', outcome: '' }, 'an outcome may be emptied');
  assert.deepEqual(noteEditArgs(noteView(), { ...same, reason: 'Asked about a fight on the bus.' }),
    { id: 'n1', reason: 'Asked about a fight on the bus.' }, 'a new reason is sent');
  const none = noteView({ follow_up_on: null });
  assert.equal(noteEditArgs(none, { ...same, follow_up_on: '' }), null, 'no date before and none now: left out');
  assert.deepEqual(noteEditArgs(none, { ...same, follow_up_on: '2026-12-20' }), { id: 'n1', follow_up_on: '2026-12-20' }, 'a date added to a note without one');
});

test('sizes read as people read them', () => {
  assert.equal(byteSize(512), '512 bytes');
  assert.equal(byteSize(3400), '3.4 KB');
  assert.equal(byteSize(12_100_000), '12 MB');
  assert.equal(byteSize(2_500_000_000), '2.5 GB');
});

test('the storage lines say what the store holds', () => {
  assert.deepEqual(storageLines({
    database_bytes: 1_234_567, documents: 120, compacted: 100, change_rows: 42,
    photos: 1, photo_bytes: 2_400_000,
  }), [
    'Records: 1.2 MB for 120 records (100 compacted, 42 changes kept one by one)',
    'Photos: 2.4 MB for 1 photo',
  ]);
});

test('a wiped phone says when and whether its records reached the server first', () => {
  assert.equal(wipedNotice(null), '');
  const after = plain(wipedNotice({ at: '2026-12-01T15:05:00Z', after_push: true }, 'en-US'));
  assert.match(after, /erased this phone on 12\/01\/2026.*after its waiting records reached the server/);
  const now = wipedNotice({ at: '2026-12-01T15:05:00Z', after_push: false }, 'en-US');
  assert.match(now, /Records it had not synced were erased with it/);
});

test("a note's disclosures read as who, where and when", () => {
  assert.deepEqual(disclosureLines([]), ['Nobody but you has received it.']);
  const lines = disclosureLines([
    { at_ms: Date.parse('2026-12-01T15:05:00Z'), to: 'x', to_name: 'Sam Supervisor', how: 'delivered' },
    { at_ms: Date.parse('2026-12-01T16:00:00Z'), to: 'x', to_name: 'Sam Supervisor', how: 'console' },
  ], 'en-US').map(plain);
  assert.match(lines[0], /^Sam Supervisor, on their phone, 12\/01\/2026/);
  assert.match(lines[1], /on the console/);
});
