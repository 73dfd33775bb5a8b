// Tests of the UI's own logic: `node --test ui/test/`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  roundModel, syncLine, visibleWindow, cleanTag, unlockMessage, idleRemaining, ago, label,
  INCIDENT_TYPES, formatWait,
} from '../js/logic.js';

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

test('tags are matched however they were typed', () => {
  assert.equal(cleanTag('  lhs-01 '), 'LHS-01');
  assert.equal(cleanTag('lhs 01'), 'LHS01');
  assert.equal(cleanTag(undefined), '');
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
