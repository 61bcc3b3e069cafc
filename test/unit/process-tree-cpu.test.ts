import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { describe, it } from 'node:test';
import { processTreeCpuMs } from '../../bench/delivery/process-cpu.js';

describe("the delivery benchmark's CPU per process tree", () => {
  it("counts a child's CPU in its parent's tree, and not in an unrelated process's", async () => {
    // a child that spends 400 ms of CPU (whatever the machine's load), says so, then sleeps until killed
    const child = spawn(
      process.execPath,
      ['-e', 'while (process.cpuUsage().user < 400_000); process.stdout.write("done"); setInterval(() => {}, 1000)'],
      { stdio: ['ignore', 'pipe', 'ignore'] },
    );
    try {
      await new Promise((r) => child.stdout!.once('data', r));
      const childCpu = processTreeCpuMs([child.pid!]);
      assert.ok(childCpu >= 400 && childCpu < 5000, `the child spent ${childCpu} ms`);
      assert.ok(processTreeCpuMs([process.pid]) >= processTreeCpuMs([child.pid!]), 'the parent tree holds the child');
      assert.equal(processTreeCpuMs([999_999_999]), 0, 'no such process: nothing');
      // by command name: the child's own name takes all of its CPU, another name none of it
      assert.equal(
        processTreeCpuMs([child.pid!], (comm) => comm === 'postgres'),
        0,
      );
      assert.ok(processTreeCpuMs([child.pid!], (comm) => comm !== 'postgres') >= 400);
    } finally {
      child.kill();
    }
  });
});
