// Pure logic of the field app's screens: labels, formatting, view models, the virtual list's
// window. No DOM here, so it runs under `node --test` (see ui/test/).

export const INCIDENT_TYPES = [
  ['fight_assault', 'Fight or assault'],
  ['weapon', 'Weapon'],
  ['drugs_alcohol', 'Drugs, alcohol or vaping'],
  ['theft', 'Theft or robbery'],
  ['vandalism', 'Vandalism or damage'],
  ['trespass', 'Trespass'],
  ['threat', 'Threat'],
  ['bullying_harassment', 'Bullying or harassment'],
  ['medical', 'Medical emergency'],
  ['fire_alarm', 'Fire or alarm'],
  ['suspicious', 'Suspicious person or activity'],
  ['other', 'Other'],
];

export const CHECK_PROBLEMS = [
  ['unsecured', 'Door or gate unsecured'],
  ['hazard', 'Safety hazard'],
  ['damage', 'Damage or vandalism'],
  ['other', 'Something else'],
];

export const PERSON_CATEGORIES = [
  ['student', 'Student'], ['staff', 'Staff'], ['visitor', 'Visitor'], ['unknown', 'Unknown'],
];
export const INVOLVEMENTS = [
  ['victim', 'Victim'], ['offender', 'Offender'], ['witness', 'Witness'],
  ['reporter', 'Reporter'], ['other', 'Other'],
];
export const CONTACT_TYPES = [
  ['mentoring', 'Mentoring'], ['counseling_referral', 'Counseling referral'],
  ['follow_up', 'Follow-up'], ['parent_contact', 'Parent contact'],
  ['informal', 'Informal'], ['other', 'Other'],
];
export const REFERRALS = [
  ['none', 'No referral'], ['counselor', 'Counselor'], ['social_worker', 'Social worker'],
  ['nurse', 'Nurse'], ['administration', 'Administration'],
  ['community_service', 'Community service'],
];

const STATUS_LABELS = {
  upcoming: 'Not due yet',
  due: 'Due now',
  overdue: 'Overdue',
  done: 'Done',
  late: 'Done late',
  missed: 'Missed',
  draft: 'Draft',
  submitted: 'Submitted',
  approved: 'Approved',
  amended: 'Amended after approval',
  returned: 'Returned',
};

/** The label of a vocabulary code, or the code itself. */
export function label(list, code) {
  const hit = list.find(([c]) => c === code);
  return hit ? hit[1] : code;
}

/** A visit or incident status in words. */
export function statusLabel(status) {
  return STATUS_LABELS[status] ?? status;
}

/** 14:05 for today, "Tue 14:05" this week, else "12 Mar 14:05" — all in local time. */
export function shortTime(iso, now = new Date()) {
  if (!iso) return '';
  const t = new Date(iso);
  const hm = t.toLocaleTimeString('en-GB', { hour: '2-digit', minute: '2-digit' });
  if (t.toDateString() === now.toDateString()) return hm;
  const days = Math.abs(now - t) / 86400000;
  if (days < 6) return `${t.toLocaleDateString('en-GB', { weekday: 'short' })} ${hm}`;
  return `${t.toLocaleDateString('en-GB', { day: 'numeric', month: 'short' })} ${hm}`;
}

/** "just now", "5 min ago", "2 h ago", or the time. */
export function ago(iso, now = new Date()) {
  if (!iso) return 'never';
  const s = Math.round((now - new Date(iso)) / 1000);
  if (s < 45) return 'just now';
  if (s < 3600) return `${Math.round(s / 60)} min ago`;
  if (s < 6 * 3600) return `${Math.round(s / 3600)} h ago`;
  return shortTime(iso, now);
}

/** The status line's words for a sync status from the `sync_info` command. */
export function syncLine(info, now = new Date()) {
  if (!info) return { saved: 'Saved on this phone', count: 0, waiting: '', last: '', problem: '' };
  const changes = info.waiting_changes;
  const photos = info.waiting_photos ?? 0;
  const count = changes + photos;
  const parts = [];
  if (changes) parts.push(`${changes} change${changes === 1 ? '' : 's'}`);
  if (photos) parts.push(`${photos} photo${photos === 1 ? '' : 's'}`);
  const waiting = count === 0 ? 'Nothing waiting to sync' : `${parts.join(' and ')} waiting to sync`;
  const last = info.syncing ? 'Syncing…' : `Last sync: ${ago(info.last_success, now)}`;
  return {
    saved: 'Everything is saved on this phone',
    count,
    waiting,
    last,
    problem: info.problem ? info.problem.message : '',
  };
}

/**
 * The round screen's model: checkpoints in round order with their status words, and the
 * summary line. `shift` is the `ShiftView` the core returns.
 */
export function roundModel(shift) {
  const rows = [...shift.round]
    .sort((a, b) => a.position - b.position || a.name.localeCompare(b.name))
    .map((c) => {
      const last = [...c.visits].reverse().find((v) => v.checked_at);
      return {
        id: c.checkpoint_id,
        name: c.name,
        tag: c.tag_code,
        position: c.position,
        status: c.status,
        statusText: statusLabel(c.status),
        lastChecked: last ? last.checked_at : null,
        attention: c.status === 'due' || c.status === 'overdue' || c.status === 'missed',
      };
    });
  const s = shift.summary;
  const parts = [`${s.done} done`];
  if (s.late) parts.push(`${s.late} late`);
  if (s.missed) parts.push(`${s.missed} missed`);
  if (s.due) parts.push(`${s.due} due now`);
  return { rows, summary: parts.join(' · '), ended: Boolean(shift.ended_at) };
}

/** What a scanned or typed tag looks like once cleaned: trimmed, no spaces, upper case. */
export function cleanTag(raw) {
  return String(raw ?? '').trim().replace(/\s+/g, '').toUpperCase();
}

/**
 * Which rows a virtual list draws: those in view plus `overscan` either side.
 * Returns `{ start, end }` (end exclusive) for `count` rows of `rowHeight` pixels.
 */
export function visibleWindow(scrollTop, viewport, rowHeight, count, overscan = 6) {
  if (count <= 0 || rowHeight <= 0) return { start: 0, end: 0 };
  const first = Math.floor(Math.max(0, scrollTop) / rowHeight);
  const inView = Math.ceil(viewport / rowHeight) + 1;
  const start = Math.max(0, first - overscan);
  const end = Math.min(count, first + inView + overscan);
  return { start, end: Math.max(start, end) };
}

/** Seconds until the screens lock, given the last use and the limit (never negative). */
export function idleRemaining(lastUsedMs, nowMs, limitSeconds) {
  return Math.max(0, Math.ceil(limitSeconds - (nowMs - lastUsedMs) / 1000));
}

/** The unlock screen's message for an unlock error. */
export function unlockMessage(err, now = new Date()) {
  if (!err) return '';
  if (err.kind === 'locked_out' || (err.kind === 'wrong_pin' && err.retry_at)) {
    const wait = Math.max(0, Math.ceil((new Date(err.retry_at) - now) / 1000));
    const prefix = err.kind === 'wrong_pin' ? 'Wrong PIN. ' : 'Too many wrong attempts. ';
    return `${prefix}Try again in ${formatWait(wait)}.`;
  }
  if (err.kind === 'wrong_pin') return 'Wrong PIN. Check it and try again.';
  return err.message;
}

/** 45 → "45 s", 90 → "2 min", 3600 → "60 min". */
export function formatWait(seconds) {
  if (seconds < 60) return `${seconds} s`;
  return `${Math.ceil(seconds / 60)} min`;
}

/** A `datetime-local` input's value for a time (local time, minutes). */
export function toLocalInput(date) {
  const d = new Date(date);
  const pad = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

/** An incident list row's words. */
export function incidentRowText(row, now = new Date()) {
  return {
    title: label(INCIDENT_TYPES, row.incident_type),
    detail: `${row.location} · ${shortTime(row.occurred_at, now)}`,
    status: statusLabel(row.status),
  };
}
