import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  type Acknowledged,
  account,
  attributeDuplicates,
  type ChaosInput,
  type FaultRecord,
} from '../../chaos/accounting.js';
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

describe('chaos run: duplicates attributed to the fault they followed', () => {
  const fault = (kind: string, startMs: number, endMs = startMs): FaultRecord => ({
    kind,
    startMs,
    endMs,
    readyMs: endMs + 100,
  });

  it('counts each copy beyond the first against the fault active or fired last before it', () => {
    const input = clean();
    input.duplicateBound = 10;
    input.faults = [
      fault('disk-full', 2000, 8000),
      fault('kill-mta-worker', 10_000),
      { kind: 'sink-421', startMs: 11_000, endMs: 11_000, skipped: 'fabricated' },
      fault('kill-group', 20_000),
      fault('kill-mta-worker', 30_000),
    ];
    input.deliveries.push(
      // before any fault
      { id: '1', at: 500 },
      // during the full disk, after it was undone, and right at the kill that follows (its window)
      { id: '2', at: 4100 },
      { id: '3', at: 9000 },
      { id: '3', at: 10_000 },
      // after a skipped fault: still the kill's window
      { id: '2', at: 12_000 },
      // the group kill, then the second worker kill
      { id: '2', at: 20_500 },
      { id: '1', at: 31_000 },
    );
    // the earliest copy is the delivery, in whatever order the copies were listed: the one at 35 s is the duplicate
    input.deliveries.push({ id: '9', at: 35_000 }, { id: '9', at: 21_000 });
    input.acknowledged.push(acked('9', 19_000));
    const figures = account(input);
    assert.equal(figures.duplicates, 8);
    assert.deepEqual(figures.duplicatesByFault, { none: 1, 'disk-full': 2, 'kill-mta-worker': 4, 'kill-group': 1 });
    assert.deepEqual(
      figures.faults.map((f) => [f.kind, f.duplicates ?? 0]),
      [
        ['disk-full', 2],
        ['kill-mta-worker', 2],
        ['sink-421', 0],
        ['kill-group', 1],
        ['kill-mta-worker', 2],
      ],
    );
  });

  it('gives no fault a duplicate in a run without any', () => {
    const figures = account(clean());
    assert.deepEqual(figures.duplicatesByFault, {});
    assert.equal(figures.faults[0]!.duplicates, undefined);
    assert.deepEqual(attributeDuplicates(clean().deliveries, clean().faults).get(undefined), 0);
  });
});
