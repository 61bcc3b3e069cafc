import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type Acknowledged, account, type ChaosInput } from '../../chaos/accounting.js';
import { FAULT_KINDS, planFaults } from '../../chaos/schedule.js';

const acked = (id: string, at: number): Acknowledged => ({ id, recipient: `r@chaos-a.test`, via: 'http', at });

/** Three messages, each delivered once, one kill at 1 s, drained. */
const clean = (): ChaosInput => ({
  seed: 7,
  seconds: 10,
  acknowledged: [acked('1', 100), acked('2', 900), acked('3', 1500)],
  deliveries: [
    { id: '1', at: 300 },
    { id: '2', at: 4000 },
    { id: '3', at: 1700 },
  ],
  bounced: [],
  duplicateBound: 6,
  faults: [{ kind: 'kill-mta-worker', startMs: 1000, endMs: 1000, readyMs: 1200 }],
  drained: true,
});

describe('chaos run: the accounting that decides its exit code', () => {
  it('passes a run where every acknowledged message was delivered once', () => {
    const figures = account(clean());
    assert.equal(figures.ok, true, figures.problems.join('; '));
    assert.deepEqual([figures.acknowledged, figures.delivered, figures.lost, figures.duplicates], [3, 3, 0, 0]);
    // /ready 0.2 s after the kill; the messages acknowledged before it (1 and 2) were all out 3 s after it
    assert.deepEqual(figures.faults, [{ kind: 'kill-mta-worker', atSeconds: 1, readySeconds: 0.2, drainedSeconds: 3 }]);
  });

  it('fails a run with a fabricated lost message, and names it', () => {
    const input = clean();
    input.acknowledged.push(acked('4', 2000));
    const figures = account(input);
    assert.equal(figures.ok, false);
    assert.equal(figures.lost, 1);
    assert.deepEqual(figures.lostIds, ['4']);
    assert.match(figures.problems.join('\n'), /1 acknowledged messages were neither delivered nor bounced/);
  });

  it('counts a bounced message as told, not lost', () => {
    const input = clean();
    input.acknowledged.push(acked('4', 2000));
    input.bounced.push('4');
    const figures = account(input);
    assert.equal(figures.ok, true, figures.problems.join('; '));
    assert.deepEqual([figures.lost, figures.bounced], [0, 1]);
  });

  it('allows duplicates up to the bound and fails beyond it', () => {
    const within = clean();
    within.duplicateBound = 2;
    within.deliveries.push({ id: '1', at: 5000 }, { id: '2', at: 5000 });
    assert.equal(account(within).duplicates, 2);
    assert.equal(account(within).ok, true);
    within.deliveries.push({ id: '1', at: 6000 });
    const beyond = account(within);
    assert.equal(beyond.duplicates, 3);
    assert.deepEqual(beyond.duplicateIds, ['1', '2']);
    assert.equal(beyond.ok, false);
    assert.match(beyond.problems.join('\n'), /3 duplicate deliveries, more than the stated bound of 2/);
  });

  it('fails when the queue did not drain or /ready never came back, and when nothing was acknowledged', () => {
    assert.equal(account({ ...clean(), drained: false }).ok, false);
    const notReady = clean();
    delete notReady.faults[0]!.readyMs;
    assert.match(account(notReady).problems.join('\n'), /\/ready never answered 200 after kill-mta-worker/);
    assert.equal(account({ ...clean(), acknowledged: [], deliveries: [] }).ok, false);
  });

  it('keeps a skipped fault, with its reason, out of the verdict', () => {
    const input = clean();
    input.faults.push({ kind: 'disk-full', startMs: 9000, endMs: 9000, skipped: 'needs root' });
    const figures = account(input);
    assert.equal(figures.ok, true, figures.problems.join('; '));
    assert.deepEqual(figures.faults[1], {
      kind: 'disk-full',
      atSeconds: 9,
      skipped: 'needs root',
      readySeconds: null,
      drainedSeconds: null,
    });
  });
});

describe('chaos run: the fault schedule', () => {
  it('is the same for the same seed and differs for another', () => {
    const a = planFaults(42, 180, FAULT_KINDS);
    assert.deepEqual(planFaults(42, 180, FAULT_KINDS), a);
    assert.notDeepEqual(planFaults(43, 180, FAULT_KINDS), a);
  });

  it('fires every kind once per round, in order of time, one per slot, none in the first', () => {
    const plan = planFaults(5, 180, FAULT_KINDS);
    assert.equal(plan.length, 8);
    assert.deepEqual([...plan.map((f) => f.kind)].sort(), [...FAULT_KINDS].sort());
    plan.forEach((f, i) => {
      assert.ok(f.atSeconds >= 20 * (i + 1) && f.atSeconds <= 20 * (i + 1) + 10, `${f.kind} at ${f.atSeconds}`);
      assert.equal(f.holdSeconds === 0, f.kind.startsWith('kill-'), f.kind);
    });
  });
});
