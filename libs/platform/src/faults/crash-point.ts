/**
 * Named places where a crash hurts most (between a provider call and its record, between reading and
 * publishing, inside a write). The fault suite sets `CASCADE_CRASH_AT=<point>[:<n>][,…]` on one service to
 * have it killed with SIGKILL the n-th time (default: the first) it reaches that point; unset, a call
 * costs one comparison.
 */
export type CrashPointName =
  | 'submit:after-provider-create'
  | 'poll:after-download'
  | 'merge:mid-write'
  | 'retry:mid-write'
  | 'outbox:after-send';

/** Point → the visit that kills; several points may be armed (`a:2,b:1`): the first reached wins. */
const armed = parse(process.env.CASCADE_CRASH_AT);
const reached = new Map<string, number>();

function parse(value: string | undefined): Map<string, number> {
  const points = new Map<string, number>();
  for (const entry of (value ?? '').split(',').map((e) => e.trim()).filter(Boolean)) {
    const [point, nth] = entry.split(/:(?=\d+$)/);
    points.set(point!, nth ? Number(nth) : 1);
  }
  return points;
}

export function crashPoint(point: CrashPointName): void {
  if (armed.size === 0) return;
  const nth = armed.get(point);
  if (nth === undefined) return;
  const visits = (reached.get(point) ?? 0) + 1;
  reached.set(point, visits);
  if (visits === nth) {
    process.stderr.write(`fault injection: killing ${process.pid} at ${point} (#${visits})\n`);
    process.kill(process.pid, 'SIGKILL');
  }
}
