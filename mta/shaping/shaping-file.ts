import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { isNode, LineCounter, parseDocument, type Document } from 'yaml';
import { mergeShapingDocuments, ShapingRulesSchema, type ShapingRules } from '../../domain/index.js';

/** The shipped rules (config/shaping.yaml at the top of the repository or image; dist/ is one level down). */
export const SHIPPED_SHAPING_FILE = fileURLToPath(new URL('../../../config/shaping.yaml', import.meta.url));

/** A problem in a rules file, named by file, line and field, e.g. "shaping.yaml:12: providers.google.com…". */
export interface ShapingFileProblem {
  file: string;
  line: number;
  column: number;
  field: string;
  message: string;
}

export type ShapingLoad =
  | { ok: true; rules: ShapingRules; files: string[] }
  | { ok: false; problems: ShapingFileProblem[] };

export function describeProblem(p: ShapingFileProblem): string {
  return `${p.file}:${p.line}:${p.column}: ${p.field || '(top level)'}: ${p.message}`;
}

interface ParsedFile {
  file: string;
  doc: Document.Parsed;
  lines: LineCounter;
  value: unknown;
}

/** One YAML file, or its syntax errors with their lines. */
function parseFile(file: string, text: string): ParsedFile | ShapingFileProblem[] {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0)
    return doc.errors.map((e) => {
      const at = lines.linePos(e.pos[0]);
      return { file, line: at.line, column: at.col, field: '', message: e.message.split('\n')[0]! };
    });
  return { file, doc, lines, value: doc.toJS() ?? {} };
}

/** Where a field is in the files (the operator's first: its value won), or the nearest parent that is there. */
function locate(files: ParsedFile[], path: PropertyKey[]): Omit<ShapingFileProblem, 'message' | 'field'> {
  for (const f of [...files].reverse())
    for (let n = path.length; n >= 0; n--) {
      const node = n === 0 ? f.doc.contents : f.doc.getIn(path.slice(0, n) as unknown[], true);
      if (isNode(node) && node.range) {
        const at = f.lines.linePos(node.range[0]);
        return { file: f.file, line: at.line, column: at.col };
      }
      // a key of the operator's file that is only in the shipped one: keep looking there
      if (n < path.length && f.doc.hasIn(path.slice(0, n) as unknown[])) break;
    }
  return { file: files[files.length - 1]?.file ?? '', line: 1, column: 1 };
}

/**
 * The shipped rules with the operator's file (if any) merged over them, validated. Texts come in
 * (the caller reads the files) so a test gives YAML and reads rules or problems.
 */
export function shapingRulesFrom(sources: { file: string; text: string }[]): ShapingLoad {
  const parsed: ParsedFile[] = [];
  const problems: ShapingFileProblem[] = [];
  for (const s of sources) {
    const p = parseFile(s.file, s.text);
    if (Array.isArray(p)) problems.push(...p);
    else parsed.push(p);
  }
  if (problems.length > 0) return { ok: false, problems };
  const merged = parsed.reduce<unknown>((acc, f) => mergeShapingDocuments(acc, f.value), {});
  const result = ShapingRulesSchema.safeParse(merged);
  if (!result.success)
    return {
      ok: false,
      problems: result.error.issues.map((issue) => {
        // an unknown key is reported at its parent: name the key itself
        const keys = issue.code === 'unrecognized_keys' ? issue.keys : [];
        const path = keys.length > 0 ? [...issue.path, keys[0]!] : issue.path;
        return { ...locate(parsed, path), field: path.map(String).join('.'), message: issue.message };
      }),
    };
  return { ok: true, rules: result.data, files: sources.map((s) => s.file) };
}

/** Reads the shipped file and the operator's (POSTLOG_SHAPING_FILE) and merges them. */
export function loadShapingFiles(operatorFile: string | undefined, shippedFile = SHIPPED_SHAPING_FILE): ShapingLoad {
  const sources: { file: string; text: string }[] = [];
  for (const file of [shippedFile, ...(operatorFile ? [operatorFile] : [])]) {
    try {
      sources.push({ file, text: readFileSync(file, 'utf8') });
    } catch (err) {
      return {
        ok: false,
        problems: [{ file, line: 0, column: 0, field: '', message: `cannot read: ${(err as Error).message}` }],
      };
    }
  }
  return shapingRulesFrom(sources);
}
