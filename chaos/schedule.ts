/**
 * The chaos run's fault schedule: which fault fires when, drawn from a seed so that a run can be
 * replayed exactly (CHAOS_SEED). Pure: no clock, no I/O.
 */

export const FAULT_KINDS = [
  'kill-group',
  'kill-mta-worker',
  'kill-postgres',
  'sink-drop-mid-data',
  'sink-421',
  'sink-stall',
  'dns-timeout',
  'disk-full',
] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

export interface PlannedFault {
  kind: FaultKind;
  /** Seconds after the load started. */
  atSeconds: number;
  /** How long a lasting fault (sink, DNS, disk) holds; 0 for a kill. */
  holdSeconds: number;
}

/** mulberry32: a small, well-mixed 32-bit generator; the same seed gives the same numbers everywhere. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const KILLS: readonly FaultKind[] = ['kill-group', 'kill-mta-worker', 'kill-postgres'];

/**
 * One fault per slot: the run is cut into slots of `slotSeconds` after a quiet first slot, each kind
 * comes once per round (in a seeded order), and each fires at a random moment in the first half of
 * its slot so that the second half leaves time to recover before the next. Faults never overlap:
 * the figures per fault (time until /ready, until drained) would mean nothing if they did.
 */
export function planFaults(
  seed: number,
  seconds: number,
  kinds: readonly FaultKind[],
  slotSeconds = 20,
): PlannedFault[] {
  const random = seededRandom(seed);
  const plan: PlannedFault[] = [];
  let round: FaultKind[] = [];
  for (let slot = slotSeconds; slot + slotSeconds <= seconds; slot += slotSeconds) {
    if (round.length === 0) round = shuffled(kinds, random);
    const kind = round.shift()!;
    const atSeconds = Math.round((slot + random() * (slotSeconds / 2)) * 10) / 10;
    const holdSeconds = KILLS.includes(kind) ? 0 : Math.round(4 + random() * 4);
    plan.push({ kind, atSeconds, holdSeconds });
  }
  return plan;
}

function shuffled<T>(items: readonly T[], random: () => number): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}
