/**
 * Named places where a crash hurts most (between a provider call and its record, between reading and
 * publishing, inside a write). The fault suite sets `CASCADE_CRASH_AT=<point>[:<n>][,…]` on one service to
 * have it killed with SIGKILL the n-th time (default: the first) it reaches that point; unset, a call
 * costs one comparison. A point reached with a scope (the provider of the batch) may also be armed as
 * `<point>@<scope>`: then only its visits in that scope count (a crash after Anthropic's create in a chain
 * that starts on Groq).
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

export function crashPoint(point: CrashPointName, scope?: string): void {
  if (armed.size === 0) return;
  visit(point);
  if (scope !== undefined) visit(`${point}@${scope}`);
}

function visit(name: string): void {
  const nth = armed.get(name);
  if (nth === undefined) return;
  const visits = (reached.get(name) ?? 0) + 1;
  reached.set(name, visits);
  if (visits === nth) {
    process.stderr.write(`fault injection: killing ${process.pid} at ${name} (#${visits})\n`);
    process.kill(process.pid, 'SIGKILL');
  }
}
