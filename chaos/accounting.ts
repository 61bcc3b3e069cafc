/**
 * The chaos run's verdict, from what was recorded: every acknowledged message must reach a sink or
 * be bounced (lost = 0), and a message may reach a sink twice only within the bound docs/delivery.md
 * states (a crash repeats at most one message per open connection). Pure, so a unit test can feed it
 * a fabricated loss and see the run fail.
 */

export interface Acknowledged {
  id: string;
  recipient: string;
  via: 'http' | 'smtp';
  /** ms since the load started */
  at: number;
}

export interface Delivery {
  id: string;
  /** ms since the load started */
  at: number;
}

export interface FaultRecord {
  kind: string;
  /** ms since the load started: when it fired, when it was undone (the kill itself for a kill) */
  startMs: number;
  endMs: number;
  /** ms since the load started when /ready answered 200 again after the fault; undefined: never */
  readyMs?: number;
  /** why it did not run (e.g. no tmpfs without root) */
  skipped?: string;
}

export interface ChaosInput {
  seed: number;
  seconds: number;
  acknowledged: Acknowledged[];
  deliveries: Delivery[];
  /** acknowledged ids the API shows bounced or failed (not lost: the sender was told) */
  bounced: string[];
  /** duplicates allowed: crashes of the MTA's connections × connections open at most */
  duplicateBound: number;
  faults: FaultRecord[];
  /** whether the queue drained before the deadline */
  drained: boolean;
}

export interface FaultFigures {
  kind: string;
  atSeconds: number;
  skipped?: string;
  /** from the kill (or the fault's undoing) until /ready answered 200 again */
  readySeconds: number | null;
  /** from the kill (or the fault's undoing) until every message acknowledged by then was delivered */
  drainedSeconds: number | null;
  /** copies beyond the first that reached a sink in this fault's window (attributeDuplicates); absent: none */
  duplicates?: number;
}

export interface ChaosFigures {
  seed: number;
  seconds: number;
  acknowledged: number;
  acknowledgedHttp: number;
  acknowledgedSmtp: number;
  delivered: number;
  bounced: number;
  lost: number;
  lostIds: string[];
  duplicates: number;
  /** the first 20 messages delivered more than once, to look up in Postlog's log */
  duplicateIds: string[];
  duplicateBound: number;
  /** duplicates per fault kind whose window they fell in; `none` before the first fault */
  duplicatesByFault: Record<string, number>;
  /** delivered ids no client saw acknowledged (an answer lost in a kill): allowed, counted */
  unacknowledgedDeliveries: number;
  drained: boolean;
  faults: FaultFigures[];
  ok: boolean;
  problems: string[];
}

const seconds = (ms: number) => Math.round(ms / 100) / 10;

export function account(input: ChaosInput): ChaosFigures {
  const firstDelivery = new Map<string, number>();
  const copies = new Map<string, number>();
  for (const d of input.deliveries) {
    copies.set(d.id, (copies.get(d.id) ?? 0) + 1);
    const seen = firstDelivery.get(d.id);
    if (seen === undefined || d.at < seen) firstDelivery.set(d.id, d.at);
  }
  const acknowledgedIds = new Set(input.acknowledged.map((a) => a.id));
  const bounced = new Set(input.bounced.filter((id) => acknowledgedIds.has(id) && !firstDelivery.has(id)));
  const lostIds = [...acknowledgedIds].filter((id) => !firstDelivery.has(id) && !bounced.has(id));
  const delivered = [...acknowledgedIds].filter((id) => firstDelivery.has(id)).length;
  const duplicates = [...copies.values()].reduce((sum, n) => sum + n - 1, 0);
  const unacknowledgedDeliveries = [...firstDelivery.keys()].filter((id) => !acknowledgedIds.has(id)).length;

  const perFault = attributeDuplicates(input.deliveries, input.faults);
  const duplicatesByFault: Record<string, number> = {};
  for (const [fault, n] of perFault)
    if (n > 0) duplicatesByFault[fault?.kind ?? 'none'] = (duplicatesByFault[fault?.kind ?? 'none'] ?? 0) + n;

  const faults = input.faults.map((f): FaultFigures => {
    const before = input.acknowledged.filter((a) => a.at <= f.endMs && !bounced.has(a.id));
    const lastNeeded = before.map((a) => firstDelivery.get(a.id));
    const drainedAt = lastNeeded.includes(undefined) ? null : Math.max(f.endMs, ...lastNeeded.map((at) => at ?? 0));
    return {
      kind: f.kind,
      atSeconds: seconds(f.startMs),
      ...(f.skipped ? { skipped: f.skipped } : {}),
      readySeconds: f.skipped ? null : f.readyMs === undefined ? null : seconds(Math.max(0, f.readyMs - f.endMs)),
      drainedSeconds: f.skipped || drainedAt === null ? null : seconds(drainedAt - f.endMs),
      ...(perFault.get(f) ? { duplicates: perFault.get(f) } : {}),
    };
  });

  const problems: string[] = [];
  if (lostIds.length > 0) problems.push(`${lostIds.length} acknowledged messages were neither delivered nor bounced`);
  if (duplicates > input.duplicateBound)
    problems.push(`${duplicates} duplicate deliveries, more than the stated bound of ${input.duplicateBound}`);
  if (!input.drained) problems.push('the queue did not drain before the deadline');
  for (const f of faults)
    if (!f.skipped && f.readySeconds === null)
      problems.push(`/ready never answered 200 after ${f.kind} at ${f.atSeconds} s`);
  if (input.acknowledged.length === 0) problems.push('nothing was acknowledged: the load never ran');

  return {
    seed: input.seed,
    seconds: input.seconds,
    acknowledged: acknowledgedIds.size,
    acknowledgedHttp: input.acknowledged.filter((a) => a.via === 'http').length,
    acknowledgedSmtp: input.acknowledged.filter((a) => a.via === 'smtp').length,
    delivered,
    bounced: bounced.size,
    lost: lostIds.length,
    lostIds: lostIds.slice(0, 20),
    duplicates,
    duplicateIds: [...copies.entries()]
      .filter(([, n]) => n > 1)
      .map(([id]) => id)
      .slice(0, 20),
    duplicateBound: input.duplicateBound,
    duplicatesByFault,
    unacknowledgedDeliveries,
    drained: input.drained,
    faults,
    ok: problems.length === 0,
    problems,
  };
}

/**
 * Each copy beyond a message's first delivery, counted against the fault whose window it reached a sink
 * in: the fault that was active or fired last before it (skipped faults have no window); undefined
 * stands for the time before the first fault. Which fault a burst of duplicates follows says which
 * kind of failure repeats mail (a chaos run once found a full disk doing so), where a total cannot.
 */
export function attributeDuplicates(
  deliveries: Delivery[],
  faults: FaultRecord[],
): Map<FaultRecord | undefined, number> {
  const fired = faults.filter((f) => !f.skipped).sort((a, b) => a.startMs - b.startMs);
  const counts = new Map<FaultRecord | undefined, number>([[undefined, 0], ...fired.map((f) => [f, 0] as const)]);
  const byId = new Map<string, number[]>();
  for (const d of deliveries) byId.set(d.id, [...(byId.get(d.id) ?? []), d.at]);
  for (const times of byId.values()) {
    for (const at of times.sort((a, b) => a - b).slice(1)) {
      const window = fired.findLast((f) => f.startMs <= at);
      counts.set(window, (counts.get(window) ?? 0) + 1);
    }
  }
  return counts;
}
