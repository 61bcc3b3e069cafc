import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type SoakSample, slopePerMinute, soakVerdict } from '../../bench/soak-verdict.js';

const limits = { rssMbPerMinute: 2, queueGrowth: 1000, projectionLagGrowthSeconds: 5, loopP99GrowthMs: 50 };

/** A 10-minute soak sampled every 10 s; `shape` gives each sample's figures from its minute. */
function soak(shape: (minute: number) => Partial<SoakSample>): SoakSample[] {
  return Array.from({ length: 60 }, (_, k) => {
    const t = (k + 1) * 10;
    return {
      t,
      rssMb: { 'web.1': 150, worker: 200 },
      heapUsedMb: { 'web.1': 40, worker: 60 },
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
});
