import { readFileSync } from 'node:fs';

/** The parts of a V8 .heapsnapshot this reads. */
interface HeapSnapshot {
  snapshot: { meta: { node_fields: string[]; node_types: [string[], ...unknown[]] } };
  nodes: number[];
  strings: string[];
}

interface Tally {
  count: number;
  bytes: number;
}

/** Objects per constructor (closures by function name, the rest by V8's kind: strings, code…) and their own sizes. */
export function tallyHeapSnapshot(snapshot: HeapSnapshot): Map<string, Tally> {
  const fields = snapshot.snapshot.meta.node_fields;
  const kinds = snapshot.snapshot.meta.node_types[0];
  const [type, name, size] = ['type', 'name', 'self_size'].map((f) => fields.indexOf(f)) as [number, number, number];
  const by = new Map<string, Tally>();
  for (let i = 0; i < snapshot.nodes.length; i += fields.length) {
    const kind = kinds[snapshot.nodes[i + type]!]!;
    const label = snapshot.strings[snapshot.nodes[i + name]!]!;
    const key = kind === 'object' || kind === 'native' ? label : kind === 'closure' ? `closure ${label}` : `(${kind})`;
    const t = by.get(key) ?? { count: 0, bytes: 0 };
    t.count++;
    t.bytes += snapshot.nodes[i + size]!;
    by.set(key, t);
  }
  return by;
}

/**
 * `node dist/bench/heap-snapshot-diff.js BEFORE.heapsnapshot AFTER.heapsnapshot [rows]`: what grew between two
 * heap snapshots of one process, per constructor, largest growth first. A snapshot is taken after a full GC,
 * so it holds the live objects only: a leak shows as a constructor whose count keeps growing from one
 * snapshot to the next (take three or more). Snapshots: see the soak in docs/benchmarks.md.
 */
function main() {
  const [before, after] = process.argv.slice(2, 4).map((f) => tallyHeapSnapshot(JSON.parse(readFileSync(f, 'utf8'))));
  if (!before || !after) throw new Error('usage: heap-snapshot-diff BEFORE.heapsnapshot AFTER.heapsnapshot [rows]');
  const total = (m: Map<string, Tally>) => [...m.values()].reduce((a, t) => a + t.bytes, 0) / 1e6;
  process.stdout.write(`live: ${total(before).toFixed(1)} MB before, ${total(after).toFixed(1)} MB after\n`);
  const rows = [...new Set([...before.keys(), ...after.keys()])].map((key) => {
    const b = before.get(key) ?? { count: 0, bytes: 0 };
    const a = after.get(key) ?? { count: 0, bytes: 0 };
    return { key, count: a.count - b.count, kb: (a.bytes - b.bytes) / 1e3, now: a };
  });
  rows.sort((x, y) => y.kb - x.kb);
  for (const r of rows.slice(0, Number(process.argv[4] ?? 25)))
    process.stdout.write(
      `${r.kb.toFixed(0).padStart(9)} KB ${String(r.count).padStart(8)} objects ` +
        `(now ${r.now.count}, ${(r.now.bytes / 1e3).toFixed(0)} KB)  ${r.key.slice(0, 80)}\n`,
    );
}

if (process.argv[1]?.endsWith('heap-snapshot-diff.js')) main();
