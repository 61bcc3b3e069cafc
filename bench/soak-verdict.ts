/** One reading of a running Postlog during the soak, `t` seconds after the paced load began. */
export interface SoakSample {
  t: number;
  /** Per process (web.1, worker, supervisor…). */
  rssMb: Record<string, number>;
  heapUsedMb: Record<string, number>;
  /** The JS heap just after each process's last major GC (its live objects): V8's sawtooth is not in it. */
  heapAfterGcMb: Record<string, number>;
  /** Memory outside the JS heap that V8 knows of (Buffers and other native objects), and the Buffers' part. */
  externalMb: Record<string, number>;
  arrayBuffersMb: Record<string, number>;
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
  /** A process's RSS floor (its lowest reading in each window, see soakVerdict), per minute. */
  rssMbPerMinute: number;
  /** A process's live JS heap (heap used after its major GCs) and its external memory's floor, per minute. */
  liveHeapMbPerMinute: number;
  /** The queue's growth over the second half (by its fitted line), in messages. */
  queueGrowth: number;
  projectionLagGrowthSeconds: number;
  loopP99GrowthMs: number;
}

/** The windows the second half is cut into for the floors of RSS and external memory. */
export const FLOOR_WINDOW_SECONDS = 60;

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
 * The lowest point of each `windowSeconds` window (counted from the first point): the troughs of a
 * sawtooth. A heap that V8 lets grow and then collects rises and falls within a window, and its
 * troughs stay level; memory that is never given back raises every trough.
 */
export function floors(points: readonly (readonly [number, number])[], windowSeconds: number) {
  const lowest = new Map<number, readonly [number, number]>();
  const t0 = points[0]?.[0] ?? 0;
  for (const p of points) {
    const w = Math.floor((p[0] - t0) / windowSeconds);
    const low = lowest.get(w);
    if (!low || p[1] < low[1]) lowest.set(w, p);
  }
  return [...lowest.values()];
}

/**
 * The soak's verdict, from the samples taken while the load ran (`soakSeconds`). Only the second
 * half is judged: the first holds the warm-up (V8 compiling and growing its heap, caches and
 * connection pools filling), and what still rises after it rises without bound. A series fails when
 * its fitted line over the second half rises by more than its limit.
 *
 * Memory is not judged by a line through RSS: RSS follows V8's sawtooth (the heap grows to a few
 * times the live objects before a major GC, and the pages freed go back to the system late or not
 * at all), so a line through a few of its teeth rises or falls by 10 MB a minute where nothing leaks.
 * Per process, the rule judges instead
 * - the live JS heap: heap used just after each major GC (`heapAfterGcMb`), which is what a leak of
 *   JS objects (a map that only grows, closures kept) raises and the sawtooth does not;
 * - the floor of external memory (Buffers, native objects V8 knows of) and the floor of RSS: the
 *   lowest reading of each minute (`floors`), where memory that is never given back shows as rising
 *   troughs (a leak outside the JS heap shows only there).
 * A process fails when its live heap or external floor rises faster than `liveHeapMbPerMinute`, or its
 * RSS floor faster than `rssMbPerMinute`. `rssMbPerMinute` in the result is still the plain line
 * through RSS, shown for comparison. A sample that lacks a process (its /metrics did not answer in
 * time) is left out of that process's series, not read as 0.
 */
export function soakVerdict(samples: readonly SoakSample[], soakSeconds: number, limits: SoakLimits) {
  const half = samples.filter((s) => s.t >= soakSeconds / 2 && s.t <= soakSeconds);
  const minutes = half.length > 1 ? (half.at(-1)!.t - half[0]!.t) / 60 : 0;
  const processes = [...new Set(samples.flatMap((s) => Object.keys(s.rssMb)))];
  /** One process's series over the second half, without the samples that lack it. */
  const points = (series: (s: SoakSample) => Record<string, number> | undefined, p: string) =>
    half.flatMap((s) => {
      const v = series(s)?.[p];
      return v === undefined ? [] : [[s.t, v] as const];
    });
  const perProcess = (f: (p: string) => number) => Object.fromEntries(processes.map((p) => [p, round(f(p))]));
  const slope = (series: (s: SoakSample) => Record<string, number> | undefined) =>
    perProcess((p) => slopePerMinute(points(series, p)));
  const floorSlope = (series: (s: SoakSample) => Record<string, number> | undefined) =>
    perProcess((p) => slopePerMinute(floors(points(series, p), FLOOR_WINDOW_SECONDS)));
  const growth = (value: (s: SoakSample) => number) => slopePerMinute(half.map((s) => [s.t, value(s)])) * minutes;
  const rssMbPerMinute = slope((s) => s.rssMb);
  const rssFloorMbPerMinute = floorSlope((s) => s.rssMb);
  const heapUsedMbPerMinute = slope((s) => s.heapUsedMb);
  const heapAfterGcMbPerMinute = slope((s) => s.heapAfterGcMb);
  const externalFloorMbPerMinute = floorSlope((s) => s.externalMb);
  const loopP99GrowthMs = perProcess((p) => slopePerMinute(points((s) => s.loopP99Ms, p)) * minutes);
  const queueGrowth = round(
    growth((s) => s.queueDepth),
    0,
  );
  const projectionLagGrowthSeconds = round(growth((s) => s.projectionLagSeconds));
  const enough = half.length >= 3;
  const within = (r: Record<string, number>, limit: number) => Object.values(r).every((x) => x <= limit);
  const met = {
    samples: enough,
    memory:
      enough &&
      within(rssFloorMbPerMinute, limits.rssMbPerMinute) &&
      within(heapAfterGcMbPerMinute, limits.liveHeapMbPerMinute) &&
      within(externalFloorMbPerMinute, limits.liveHeapMbPerMinute),
    queue: enough && queueGrowth <= limits.queueGrowth,
    projectionLag: enough && projectionLagGrowthSeconds <= limits.projectionLagGrowthSeconds,
    loopLag: enough && within(loopP99GrowthMs, limits.loopP99GrowthMs),
  };
  return {
    judgedFromSecond: half[0]?.t ?? null,
    rssMbPerMinute,
    rssFloorMbPerMinute,
    heapUsedMbPerMinute,
    heapAfterGcMbPerMinute,
    externalFloorMbPerMinute,
    loopP99GrowthMs,
    queueGrowth,
    projectionLagGrowthSeconds,
    met,
  };
}
