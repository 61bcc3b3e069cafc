import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

/**
 * The layout of docs/architecture.md, held by a test: which top-level folder may import which.
 * `domain/` is pure; `infra/` (ports and adapters) sits on it and imports nothing above it; the
 * layers that use ports come next; `app/` (the composition root, CLI and supervisor) is the only
 * folder that imports everything. Tests and benchmarks may import anything.
 */
const MAY_IMPORT: Record<string, string[]> = {
  domain: [],
  infra: ['domain'],
  'write-side': ['domain', 'infra'],
  mta: ['domain', 'infra', 'write-side'],
  projections: ['domain', 'infra'],
  'read-api': ['domain', 'infra'],
  app: ['domain', 'infra', 'write-side', 'mta', 'projections', 'read-api'],
};

// compiled to dist/test/unit: the sources are two folders up from dist/
const repo = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((d) => {
    const p = join(dir, d.name);
    if (d.isDirectory()) return sources(p);
    return d.name.endsWith('.ts') ? [p] : [];
  });
}

/** Every (from folder, to folder, file, specifier) of a relative import between top-level folders. */
function crossings(): { from: string; to: string; file: string; spec: string }[] {
  const out: { from: string; to: string; file: string; spec: string }[] = [];
  for (const folder of Object.keys(MAY_IMPORT)) {
    for (const file of sources(join(repo, folder))) {
      const text = readFileSync(file, 'utf8');
      for (const m of text.matchAll(/(?:from|import)\s*\(?\s*['"](\.{1,2}\/[^'"]+)['"]/g)) {
        const target = relative(repo, resolve(dirname(file), m[1]!)).split('/')[0]!;
        if (target !== folder) out.push({ from: folder, to: target, file: relative(repo, file), spec: m[1]! });
      }
    }
  }
  return out;
}

describe('architecture: who may import whom', () => {
  it('each folder imports only the folders below it', () => {
    const wrong = crossings()
      .filter((c) => !(MAY_IMPORT[c.from] ?? []).includes(c.to))
      .map((c) => `${c.file} imports ${c.spec} (${c.from} → ${c.to})`);
    assert.deepEqual(wrong, []);
  });

  it('no import cycle between top-level folders', () => {
    const edges = new Map<string, Set<string>>();
    for (const c of crossings()) edges.set(c.from, (edges.get(c.from) ?? new Set()).add(c.to));
    const cycle = (start: string, at: string, seen: string[]): string[] | undefined => {
      for (const next of edges.get(at) ?? []) {
        if (next === start) return [...seen, next];
        if (!seen.includes(next)) {
          const found = cycle(start, next, [...seen, next]);
          if (found) return found;
        }
      }
      return undefined;
    };
    for (const folder of edges.keys()) assert.equal(cycle(folder, folder, [folder])?.join(' → '), undefined);
  });

  it('has a folder on disk for every layer it names', () => {
    for (const folder of Object.keys(MAY_IMPORT)) assert.ok(sources(join(repo, folder)).length > 0, folder);
  });
});
