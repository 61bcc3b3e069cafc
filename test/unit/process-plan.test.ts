import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { planProcesses } from '../../app/cluster/process-plan.js';
import { roleNames } from '../../infra/config/index.js';
import { cgroupCpuQuota } from '../../app/cluster/cpu-budget.js';

describe('planProcesses', () => {
  it('runs every role in one process when asked for one', () => {
    assert.deepEqual(planProcesses(roleNames, 1), [{ name: 'postlog', roles: [...roleNames], listens: true }]);
  });

  it('gives the MTA and projector one process of their own and the listening roles the rest', () => {
    const plan = planProcesses(roleNames, 3);
    assert.deepEqual(
      plan.map((p) => [p.name, p.roles.join(','), p.listens]),
      [
        ['web.1', 'api,smtp,inbound,tracking,graphql', true],
        ['web.2', 'api,smtp,inbound,tracking,graphql', true],
        ['worker', 'mta,projector', false],
      ],
    );
  });

  it('keeps one listening process when only two are asked for', () => {
    assert.deepEqual(
      planProcesses(roleNames, 2).map((p) => p.name),
      ['web.1', 'worker'],
    );
  });

  it('uses every process for listening roles when no background role is configured', () => {
    assert.deepEqual(
      planProcesses(['api', 'tracking'], 2).map((p) => [p.name, p.roles.join(',')]),
      [
        ['web.1', 'api,tracking'],
        ['web.2', 'api,tracking'],
      ],
    );
  });

  it('runs background roles alone in one process: more would only compete for the same queue', () => {
    assert.deepEqual(planProcesses(['mta', 'projector'], 4), [
      { name: 'worker', roles: ['mta', 'projector'], listens: false },
    ]);
  });
});

describe('cgroupCpuQuota', () => {
  const files = (map: Record<string, string>) => (path: string) => map[path];
  it('reads a cgroup v2 quota, and none when unlimited', () => {
    assert.equal(cgroupCpuQuota(files({ '/sys/fs/cgroup/cpu.max': '200000 100000\n' })), 2);
    assert.equal(cgroupCpuQuota(files({ '/sys/fs/cgroup/cpu.max': '150000 100000' })), 1.5);
    assert.equal(cgroupCpuQuota(files({ '/sys/fs/cgroup/cpu.max': 'max 100000\n' })), undefined);
  });
  it('reads a cgroup v1 quota, where -1 means unlimited', () => {
    assert.equal(
      cgroupCpuQuota(
        files({
          '/sys/fs/cgroup/cpu/cpu.cfs_quota_us': '400000\n',
          '/sys/fs/cgroup/cpu/cpu.cfs_period_us': '100000\n',
        }),
      ),
      4,
    );
    assert.equal(
      cgroupCpuQuota(
        files({ '/sys/fs/cgroup/cpu/cpu.cfs_quota_us': '-1\n', '/sys/fs/cgroup/cpu/cpu.cfs_period_us': '100000\n' }),
      ),
      undefined,
    );
  });
  it('knows nothing without cgroup files', () => {
    assert.equal(cgroupCpuQuota(files({})), undefined);
  });
});
