import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { floors, type SoakSample, slopePerMinute, soakVerdict } from '../../bench/soak-verdict.js';

const limits = {
  rssMbPerMinute: 2,
  liveHeapMbPerMinute: 1,
  queueGrowth: 1000,
  projectionLagGrowthSeconds: 5,
  loopP99GrowthMs: 50,
};

/** A 10-minute soak sampled every 10 s; `shape` gives each sample's figures from its minute. */
function soak(shape: (minute: number) => Partial<SoakSample>): SoakSample[] {
  return Array.from({ length: 60 }, (_, k) => {
    const t = (k + 1) * 10;
    return {
      t,
      rssMb: { 'web.1': 150, worker: 200 },
      heapUsedMb: { 'web.1': 40, worker: 60 },
      heapAfterGcMb: { 'web.1': 30, worker: 45 },
      externalMb: { 'web.1': 5, worker: 8 },
      arrayBuffersMb: { 'web.1': 2, worker: 3 },
      loopP99Ms: { 'web.1': 20, worker: 30 },
      queueDepth: 50,
      projectionLagSeconds: 0.5,
      projectionLagEvents: 10,
      slowestProjection: 'message-read-models',
      databaseMb: 100 + t,
      accepted: t * 300,
      delivered: t * 300,
      acceptP99Ms: 12,
      loadAverage: 2,
      ...shape(t / 60),
    };
  });
}

describe('the soak verdict', () => {
  it('fits a least-squares line', () => {
    assert.equal(
      slopePerMinute([
        [0, 10],
        [60, 12],
        [120, 14],
      ]),
      2,
    );
    assert.equal(
      +slopePerMinute([
        [0, 0],
        [60, 3],
        [120, 0],
        [180, 3],
      ]).toFixed(2),
      0.6,
    );
    assert.equal(slopePerMinute([[30, 5]]), 0);
  });

  it('passes a steady run, however its first half climbed (the warm-up)', () => {
    const v = soakVerdict(
      soak((m) => ({ rssMb: { 'web.1': 100 + 10 * Math.min(m, 5), worker: 200 }, queueDepth: m < 5 ? 5000 * m : 50 })),
      600,
      limits,
    );
    assert.equal(v.judgedFromSecond, 300);
    assert.deepEqual(v.rssMbPerMinute, { 'web.1': 0, worker: 0 });
    assert.ok(Object.values(v.met).every(Boolean), JSON.stringify(v));
  });

  it('fails a process whose RSS keeps rising, and says which', () => {
    const v = soakVerdict(
      soak((m) => ({ rssMb: { 'web.1': 150, worker: 200 + 3 * m } })),
      600,
      limits,
    );
    assert.equal(v.rssMbPerMinute.worker, 3);
    assert.equal(v.met.memory, false);
    assert.equal(v.met.queue, true);
  });

  it('fails a queue, a projection or an event loop falling further behind', () => {
    const v = soakVerdict(
      soak((m) => ({
        queueDepth: 600 * m,
        projectionLagSeconds: 2 * m,
        loopP99Ms: { 'web.1': 20, worker: 30 + 20 * m },
      })),
      600,
      limits,
    );
    assert.deepEqual([v.met.queue, v.met.projectionLag, v.met.loopLag, v.met.memory], [false, false, false, true]);
    assert.equal(v.queueGrowth, 3000); // 600 a minute over the five minutes judged
  });

  it('does not pass a run too short to judge', () => {
    assert.equal(soakVerdict(soak(() => ({})).slice(0, 3), 600, limits).met.samples, false);
  });

  /** V8's sawtooth: the heap (and RSS with it) climbs `amplitude` MB over each `period` seconds, then drops. */
  const tooth = (t: number, period: number, amplitude: number) => ((t % period) / period) * amplitude;

  it('takes the lowest reading of each window', () => {
    const points = [10, 20, 30, 40, 50, 60, 70].map((t) => [t, 100 + tooth(t, 30, 60)] as const);
    assert.deepEqual(floors(points, 30), [
      [30, 100],
      [60, 100],
      [70, 120],
    ]);
  });

  it('passes a sawtooth of 150 MB whose troughs stay level (teeth shorter than the window)', () => {
    const v = soakVerdict(
      soak((m) => ({
        rssMb: { 'web.1': 300, worker: 350 + tooth(m * 60, 50, 150) },
        heapUsedMb: { 'web.1': 60, worker: 75 + tooth(m * 60, 50, 140) },
        heapAfterGcMb: { 'web.1': 60, worker: 72 + (m % 1 < 0.5 ? 0.5 : 0) },
        externalMb: { 'web.1': 5, worker: 8 + tooth(m * 60, 30, 50) },
      })),
      600,
      limits,
    );
    assert.ok(Math.abs(v.rssFloorMbPerMinute.worker!) <= 2, `floor ${v.rssFloorMbPerMinute.worker}`);
    assert.equal(v.met.memory, true, JSON.stringify(v));
  });

  it('passes teeth that grow taller (V8 letting the heap grow further before it collects) on level troughs', () => {
    const v = soakVerdict(
      soak((m) => ({ rssMb: { 'web.1': 300, worker: 350 + tooth(m * 60, 50, 30 + 20 * m) } })),
      600,
      limits,
    );
    assert.ok(v.rssMbPerMinute.worker! > 5, `a line through every reading rises: ${v.rssMbPerMinute.worker}`);
    assert.equal(v.rssFloorMbPerMinute.worker, 0);
    assert.equal(v.met.memory, true, JSON.stringify(v));
  });

  it('fails a sawtooth whose troughs climb (a leak under the sawtooth)', () => {
    const v = soakVerdict(
      soak((m) => ({ rssMb: { 'web.1': 300, worker: 350 + 4 * m + tooth(m * 60, 40, 100) } })),
      600,
      limits,
    );
    assert.ok(v.rssFloorMbPerMinute.worker! >= 3, `floor ${v.rssFloorMbPerMinute.worker}`);
    assert.equal(v.met.memory, false);
  });

  it('fails live JS objects that keep rising, though RSS stays level', () => {
    const v = soakVerdict(
      soak((m) => ({ heapAfterGcMb: { 'web.1': 30, worker: 45 + 2 * m } })),
      600,
      limits,
    );
    assert.equal(v.heapAfterGcMbPerMinute.worker, 2);
    assert.equal(v.met.memory, false);
  });

  it('fails Buffers that are never given back (the floor of external memory)', () => {
    const v = soakVerdict(
      soak((m) => ({ externalMb: { 'web.1': 5, worker: 8 + 1.5 * m + tooth(m * 60, 30, 40) } })),
      600,
      limits,
    );
    assert.ok(v.externalFloorMbPerMinute.worker! > 1, `floor ${v.externalFloorMbPerMinute.worker}`);
    assert.equal(v.met.memory, false);
  });

  it('leaves out a sample a process is missing from, instead of reading 0', () => {
    const samples = soak(() => ({}));
    const gap = samples[45]!;
    samples[45] = { ...gap, rssMb: { 'web.1': 150 }, heapAfterGcMb: { 'web.1': 30 }, externalMb: { 'web.1': 5 } };
    const v = soakVerdict(samples, 600, limits);
    assert.deepEqual(
      [v.rssMbPerMinute.worker, v.rssFloorMbPerMinute.worker, v.heapAfterGcMbPerMinute.worker],
      [0, 0, 0],
    );
    assert.equal(v.met.memory, true);
  });
});
