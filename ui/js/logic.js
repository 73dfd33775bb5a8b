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

/** A problem in a word or two, for a checkpoint's badge ("Done · problem: unsecured"). */
const PROBLEM_WORDS = { unsecured: 'unsecured', hazard: 'hazard', damage: 'damage', other: 'other' };

/** What each change in a record's history did, in words. */
const ACTIONS = {
  create_incident: 'Created',
  edit_incident: 'Edited',
  submit_incident: 'Submitted for review',
  review_incident: 'Reviewed',
  add_supplement: 'Added a supplement',
};

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

/** A size in bytes as people read it: 512 bytes, 3.4 KB, 12.1 MB (decimal units). */
export function byteSize(n) {
  if (n < 1000) return `${n} bytes`;
  const units = ['KB', 'MB', 'GB'];
  let v = n / 1000;
  let i = 0;
  while (v >= 1000 && i < units.length - 1) { v /= 1000; i += 1; }
  return `${v < 10 ? v.toFixed(1) : Math.round(v)} ${units[i]}`;
}

/** The "Storage on this phone" lines, from the home screen's `storage` (`StoreSize`). */
export function storageLines(s) {
  const records = s.documents === 1 ? '1 record' : `${s.documents} records`;
  const photos = s.photos === 1 ? '1 photo' : `${s.photos} photos`;
  return [
    `Records: ${byteSize(s.database_bytes)} for ${records} (${s.compacted} compacted, ${s.change_rows} changes kept one by one)`,
    `Photos: ${byteSize(s.photo_bytes)} for ${photos}`,
  ];
}

/** A visit or incident status in words. */
export function statusLabel(status) {
  return STATUS_LABELS[status] ?? status;
}

/**
 * The device's locale: the web view's language (`navigator.language`), en-US when it has
 * none. Every date and time the screens show is written in it, in the device's time zone.
 */
export function deviceLocale() {
  const lang = globalThis.navigator?.language;
  try {
    return lang ? Intl.DateTimeFormat.supportedLocalesOf([lang])[0] ?? 'en-US' : 'en-US';
  } catch {
    return 'en-US';
  }
}

const TIME = { hour: 'numeric', minute: '2-digit' };
const DATE = { year: 'numeric', month: '2-digit', day: '2-digit' };

function fmt(locale, options, t) {
  return new Intl.DateTimeFormat(locale, options).format(t);
}

/** A date and time in full: "12/01/2026, 2:05 PM" in en-US, "01.12.2026, 14:05" in de-DE. */
export function dateTime(iso, locale = deviceLocale()) {
  if (!iso) return '';
  return fmt(locale, { ...DATE, ...TIME }, new Date(iso));
}

/** A calendar date (`YYYY-MM-DD`, no time of day): "12/01/2026" in en-US. */
export function calendarDate(ymd, locale = deviceLocale()) {
  if (!ymd) return '';
  const [y, m, d] = String(ymd).split('-').map(Number);
  // Noon UTC, written in UTC: the same day in every time zone.
  return fmt(locale, { ...DATE, timeZone: 'UTC' }, new Date(Date.UTC(y, m - 1, d, 12)));
}

/** The time for today ("2:05 PM"), with the weekday this week ("Tue 2:05 PM"), else with the
 * day ("Mar 12, 2:05 PM"), all in the device's locale and time zone. */
export function shortTime(iso, now = new Date(), locale = deviceLocale()) {
  if (!iso) return '';
  const t = new Date(iso);
  if (t.toDateString() === now.toDateString()) return fmt(locale, TIME, t);
  const days = Math.abs(now - t) / 86400000;
  if (days < 6) return fmt(locale, { weekday: 'short', ...TIME }, t);
  return fmt(locale, { day: 'numeric', month: 'short', ...TIME }, t);
}

/** "just now", "5 min ago", "2 h ago", or the time. */
export function ago(iso, now = new Date(), locale = deviceLocale()) {
  if (!iso) return 'never';
  const s = Math.round((now - new Date(iso)) / 1000);
  if (s < 45) return 'just now';
  if (s < 3600) return `${Math.round(s / 60)} min ago`;
  if (s < 6 * 3600) return `${Math.round(s / 3600)} h ago`;
  return shortTime(iso, now, locale);
}

/** The status line's words for a sync status from the `sync_info` command. */
export function syncLine(info, now = new Date(), locale = deviceLocale()) {
  if (!info) return { saved: 'Saved on this phone', count: 0, waiting: '', last: '', problem: '' };
  const changes = info.waiting_changes;
  const photos = info.waiting_photos ?? 0;
  const count = changes + photos;
  const parts = [];
  if (changes) parts.push(`${changes} change${changes === 1 ? '' : 's'}`);
  if (photos) parts.push(`${photos} photo${photos === 1 ? '' : 's'}`);
  const mine = count === 0 ? 'Nothing waiting to sync' : `${parts.join(' and ')} waiting to sync`;
  // On a shared phone, any session's sync carries other people's signed records too; what is
  // listed here is still waiting (for a sync, or, for a record made before signing, for its
  // owner to unlock).
  const others = (info.waiting_for_others ?? [])
    .map((o) => `${o.name ?? 'someone no longer on this phone'} (${o.documents} record${o.documents === 1 ? '' : 's'})`);
  const waiting = others.length ? `${mine}; also waiting, made by others on this phone: ${others.join(', ')}` : mine;
  const last = info.syncing ? 'Syncing…' : `Last sync: ${ago(info.last_success, now, locale)}`;
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
 * summary line. `shift` is the `ShiftView` the core returns. A checkpoint whose last check
 * found a problem says so in words ("Done · problem: unsecured"), not by colour alone.
 */
export function roundModel(shift) {
  const results = new Map((shift.checks ?? []).map((c) => [c.id, c.result]));
  const rows = [...shift.round]
    .sort((a, b) => a.position - b.position || a.name.localeCompare(b.name))
    .map((c) => {
      const last = [...c.visits].reverse().find((v) => v.checked_at);
      const result = last ? results.get(last.check_id) : undefined;
      const problem = result && result !== 'all_clear' ? result : null;
      const base = statusLabel(c.status);
      return {
        id: c.checkpoint_id,
        name: c.name,
        tag: c.tag_code,
        position: c.position,
        status: c.status,
        problem,
        statusText: problem ? `${base} · problem: ${PROBLEM_WORDS[problem] ?? problem}` : base,
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

/**
 * The hint under a new-PIN field, from the app's `pin_rule` (the core's secret policy, so the
 * numbers are never written twice).
 */
export function pinHint(rule) {
  if (!rule) return '';
  return `At least ${rule.min_digits} digits, or a passphrase of at least ${rule.min_with_letters} characters with letters in it. You unlock the app with it, even with no signal.`;
}

/** A note's disclosures (`note_disclosures`) as lines for its author, newest first. */
export function disclosureLines(found, locale = deviceLocale()) {
  if (!found.length) return ['Nobody but you has received it.'];
  const how = { delivered: 'on their phone', console: 'on the console', exported: 'in an export' };
  return found.map((d) => `${d.to_name || 'Someone'}, ${how[d.how] ?? d.how}, ${dateTime(new Date(d.at_ms).toISOString(), locale)}`);
}

/** The set-up screen's note after the district wiped the phone (`state.wiped`), or ''. */
export function wipedNotice(wiped, locale = deviceLocale()) {
  if (!wiped) return '';
  const when = dateTime(wiped.at, locale);
  return wiped.after_push
    ? `The district erased this phone on ${when}, after its waiting records reached the server. Set it up again to use it.`
    : `The district erased this phone on ${when}. Records it had not synced were erased with it. Set it up again to use it.`;
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
export function incidentRowText(row, now = new Date(), locale = deviceLocale()) {
  return {
    title: label(INCIDENT_TYPES, row.incident_type),
    detail: `${row.location} · ${shortTime(row.occurred_at, now, locale)}`,
    status: statusLabel(row.status),
  };
}

/**
 * A record's history in words, oldest first: "Created by Gia Guard", "Edited by Olga
 * Officer", each with its date and time. `history` is what the `incident` command returns.
 */
export function historyLines(history, locale = deviceLocale()) {
  return (history ?? []).map((e) => ({
    what: `${ACTIONS[e.action] ?? e.action.replace(/_/g, ' ')} by ${e.by_name ?? 'someone not known to this phone'}`,
    when: dateTime(e.at, locale),
  }));
}

/**
 * Whether the unlocked person (`meId`) may edit a contact note: only its author may, the rule
 * the core applies to `edit_note`. `view` is what the `note` command returns.
 */
export function mayEditNote(view, meId) {
  return Boolean(meId) && view?.header?.author_id === meId;
}

/**
 * The `edit_note` arguments for what the note's edit form holds (`{ reason, outcome, referral,
 * follow_up_on }`, the date as a date input gives it: `YYYY-MM-DD`, or empty for none): only
 * the fields that differ from the note as the form opened it, so that a field left alone is
 * not written over a change made meanwhile on another phone. A date emptied sends `null`, which
 * clears the note's. `null` when nothing changed.
 */
export function noteEditArgs(view, form) {
  const b = view.body;
  const args = { id: view.header.id };
  if (form.reason !== undefined && form.reason !== b.reason) args.reason = form.reason;
  if (form.outcome !== b.outcome) args.outcome = form.outcome;
  if (form.referral !== b.referral) args.referral = form.referral;
  const date = form.follow_up_on || null;
  if (date !== (b.follow_up_on ?? null)) args.follow_up_on = date;
  return Object.keys(args).length > 1 ? args : null;
}
