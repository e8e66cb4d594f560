/**
 * The next slot of a CronJob schedule, for the plan ("next slot 03:00"): the five standard fields
 * (minute hour day-of-month month day-of-week) with `*`, numbers, ranges, lists and steps, and the
 * @hourly/@daily/… macros, in UTC (EKS runs the controller in UTC). Day-of-month and day-of-week
 * both restricted means either matches, as cron and the CronJob controller read it. Names (JAN,
 * MON), `?` and `TZ=` prefixes are not read: the answer is then undefined, never a guess.
 */
const MACROS: Record<string, string> = {
  '@yearly': '0 0 1 1 *',
  '@annually': '0 0 1 1 *',
  '@monthly': '0 0 1 * *',
  '@weekly': '0 0 * * 0',
  '@daily': '0 0 * * *',
  '@midnight': '0 0 * * *',
  '@hourly': '0 * * * *',
};

const RANGES: [number, number][] = [
  [0, 59],
  [0, 23],
  [1, 31],
  [1, 12],
  [0, 7],
];

function field(text: string, [lo, hi]: [number, number]): Set<number> | undefined {
  const out = new Set<number>();
  for (const part of text.split(',')) {
    const m = /^(\*|(\d+)(?:-(\d+))?)(?:\/(\d+))?$/.exec(part);
    if (!m) return undefined;
    const from = m[1] === '*' ? lo : Number(m[2]);
    const to = m[1] === '*' ? hi : m[3] !== undefined ? Number(m[3]) : m[4] ? hi : from;
    const step = m[4] ? Number(m[4]) : 1;
    if (from < lo || to > hi || from > to || step < 1) return undefined;
    for (let v = from; v <= to; v += step) out.add(v);
  }
  return out;
}

/** The first slot strictly after `after`, or undefined when the schedule is not one we read. */
export function nextSlot(schedule: string, after: Date): Date | undefined {
  const text = MACROS[schedule.trim()] ?? schedule.trim();
  const parts = text.split(/\s+/);
  if (parts.length !== 5) return undefined;
  const sets = parts.map((p, i) => field(p, RANGES[i] as [number, number]));
  if (sets.some((s) => s === undefined)) return undefined;
  const [minutes, hours, days, months, weekdays] = sets as Set<number>[];
  if ((weekdays as Set<number>).has(7)) (weekdays as Set<number>).add(0);
  const domAny = parts[2] === '*';
  const dowAny = parts[4] === '*';
  const t = new Date(after.getTime());
  t.setUTCSeconds(0, 0);
  t.setUTCMinutes(t.getUTCMinutes() + 1);
  // At most a leap year and a bit of minutes; day by day when the day does not match.
  const limit = after.getTime() + 367 * 24 * 3600_000;
  while (t.getTime() <= limit) {
    const dom = (days as Set<number>).has(t.getUTCDate());
    const dow = (weekdays as Set<number>).has(t.getUTCDay());
    const dayOk = domAny || dowAny ? dom && dow : dom || dow;
    if (!(months as Set<number>).has(t.getUTCMonth() + 1) || !dayOk) {
      t.setUTCHours(0, 0, 0, 0);
      t.setUTCDate(t.getUTCDate() + 1);
      continue;
    }
    if (!(hours as Set<number>).has(t.getUTCHours())) {
      t.setUTCMinutes(0);
      t.setUTCHours(t.getUTCHours() + 1);
      continue;
    }
    if ((minutes as Set<number>).has(t.getUTCMinutes())) return t;
    t.setUTCMinutes(t.getUTCMinutes() + 1);
  }
  return undefined;
}
