import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LEASE_LINGER_MS, nextLeaseInMs, type LeaseRound } from '../../mta/queue/lease-pacing.js';

const round = (r: Partial<LeaseRound>): LeaseRound => ({
  asked: 200,
  taken: 0,
  inFlight: 0,
  maxInFlight: 500,
  pollMs: 250,
  ...r,
});

describe('MTA lease pacing: when the worker leases from the delivery queue next', () => {
  it('at once while the queue has more due rows than a lease takes', () => {
    assert.equal(nextLeaseInMs(round({ taken: 200, inFlight: 200 })), 0);
  });

  it('after the linger when a lease took every due row there was', () => {
    assert.equal(LEASE_LINGER_MS, 20);
    assert.equal(nextLeaseInMs(round({ taken: 8, inFlight: 8 })), LEASE_LINGER_MS);
  });

  it('after the poll interval when the queue had nothing due', () => {
    assert.equal(nextLeaseInMs(round({ taken: 0 })), 250);
  });

  it('after the poll interval when the worker holds all it may, however full the lease was', () => {
    assert.equal(nextLeaseInMs(round({ asked: 100, taken: 100, inFlight: 500 })), 250);
    assert.equal(nextLeaseInMs(round({ asked: 0, taken: 0, inFlight: 500 })), 250);
  });

  it('never lingers longer than it polls', () => {
    assert.equal(nextLeaseInMs(round({ taken: 3, inFlight: 3, pollMs: 10 })), 10);
  });
});
