/** One reading of a running Postlog during the soak, `t` seconds after the paced load began. */
export interface SoakSample {
  t: number;
  /** Per process (web.1, worker, supervisor…). */
  rssMb: Record<string, number>;
  heapUsedMb: Record<string, number>;
  /** Each process's event-loop delay p99 since the previous sample. */
  loopP99Ms: Record<string, number>;
  /** Messages queued for delivery (not held). */
  queueDepth: number;
  /** The projection furthest behind: how long its oldest unapplied event has waited, and how many there are. */
  projectionLagSeconds: number;
  projectionLagEvents: number;
  /** The projection with the most events to apply. */
  slowestProjection: string;
  databaseMb: number;
  accepted: number;
  delivered: number;
  /** The accept requests' p99 since the previous sample. */
  acceptP99Ms: number;
  /** The machine's (1 minute): the soak shares it, and a busy neighbour slows delivery. */
  loadAverage: number;
}

/** How much each series may grow over the second half of the soak before it counts as growing without bound. */
export interface SoakLimits {
  /** A process's RSS, by a least-squares line through the second half. */
  rssMbPerMinute: number;
  /** The queue's growth over the second half (by its fitted line), in messages. */
  queueGrowth: number;
  projectionLagGrowthSeconds: number;
  loopP99GrowthMs: number;
}

/** The least-squares slope of `points` ([seconds, value]), per minute. */
export function slopePerMinute(points: readonly (readonly [number, number])[]): number {
  const n = points.length;
  if (n < 2) return 0;
  const mt = points.reduce((a, [t]) => a + t, 0) / n;
  const mv = points.reduce((a, [, v]) => a + v, 0) / n;
  let cov = 0;
  let vt = 0;
  for (const [t, v] of points) {
    cov += (t - mt) * (v - mv);
    vt += (t - mt) ** 2;
  }
  return vt === 0 ? 0 : (cov / vt) * 60;
}

const round = (x: number, digits = 2) => +x.toFixed(digits);

/**
 * The soak's verdict, from the samples taken while the load ran (`soakSeconds`). Only the second
 * half is judged: the first holds the warm-up (V8 compiling and growing its heap, caches and
 * connection pools filling), and what still rises after it rises without bound. A series fails when
 * its fitted line over the second half rises by more than its limit.
 */
export function soakVerdict(samples: readonly SoakSample[], soakSeconds: number, limits: SoakLimits) {
  const half = samples.filter((s) => s.t >= soakSeconds / 2 && s.t <= soakSeconds);
  const minutes = half.length > 1 ? (half.at(-1)!.t - half[0]!.t) / 60 : 0;
  const growth = (value: (s: SoakSample) => number) => slopePerMinute(half.map((s) => [s.t, value(s)])) * minutes;
  const processes = [...new Set(samples.flatMap((s) => Object.keys(s.rssMb)))];
  const perProcess = (series: (s: SoakSample) => Record<string, number>, f: (v: (s: SoakSample) => number) => number) =>
    Object.fromEntries(processes.map((p) => [p, round(f((s) => series(s)[p] ?? 0))]));
  const rssMbPerMinute = perProcess(
    (s) => s.rssMb,
    (v) => slopePerMinute(half.map((s) => [s.t, v(s)])),
  );
  const heapUsedMbPerMinute = perProcess(
    (s) => s.heapUsedMb,
    (v) => slopePerMinute(half.map((s) => [s.t, v(s)])),
  );
  const loopP99GrowthMs = perProcess((s) => s.loopP99Ms, growth);
  const queueGrowth = round(
    growth((s) => s.queueDepth),
    0,
  );
  const projectionLagGrowthSeconds = round(growth((s) => s.projectionLagSeconds));
  const enough = half.length >= 3;
  const met = {
    samples: enough,
    memory: enough && Object.values(rssMbPerMinute).every((x) => x <= limits.rssMbPerMinute),
    queue: enough && queueGrowth <= limits.queueGrowth,
    projectionLag: enough && projectionLagGrowthSeconds <= limits.projectionLagGrowthSeconds,
    loopLag: enough && Object.values(loopP99GrowthMs).every((x) => x <= limits.loopP99GrowthMs),
  };
  return {
    judgedFromSecond: half[0]?.t ?? null,
    rssMbPerMinute,
    heapUsedMbPerMinute,
    loopP99GrowthMs,
    queueGrowth,
    projectionLagGrowthSeconds,
    met,
  };
}
