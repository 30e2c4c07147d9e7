// The module boundaries of STYLE.md, checked on every import in src/: util and codec import
// nothing from src, log only util, shard never net or mgmt, net never log or shard internals,
// and across folders only a folder's index.ts (shard: api.ts) is imported.

import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const SRC = resolve(dirname(fileURLToPath(import.meta.url)), '../../src');

/** Folders each folder may import from (besides itself). */
const ALLOWED: Record<string, string[]> = {
  util: [],
  codec: [],
  log: ['util'],
  shard: ['codec', 'log', 'util'],
  net: ['codec', 'util', 'shard'],
  mgmt: ['util', 'shard', 'net'],
  perf: ['codec', 'util'],
  // warren ctl talks to a broker over HTTP only.
  ctl: [],
  '.': ['codec', 'util', 'net', 'shard', 'log', 'mgmt', 'perf', 'ctl'],
};

/** The one file of a folder others may import. */
const ENTRY: Record<string, string> = { shard: 'api.ts' };

function sourceFiles(directory: string): string[] {
  const files: string[] = [];
  for (const name of readdirSync(directory)) {
    const path = join(directory, name);
    if (statSync(path).isDirectory()) files.push(...sourceFiles(path));
    else if (name.endsWith('.ts') && !name.endsWith('.test.ts')) files.push(path);
  }
  return files;
}

function folderOf(path: string): string {
  const parts = relative(SRC, path).split('/');
  return parts.length === 1 ? '.' : parts[0]!;
}

describe('module boundaries', () => {
  it('every import in src/ respects STYLE.md', () => {
    const violations: string[] = [];
    const files = sourceFiles(SRC);
    expect(files.length).toBeGreaterThan(10);
    for (const file of files) {
      const from = folderOf(file);
      const text = readFileSync(file, 'utf8');
      for (const match of text.matchAll(/(?:import|export)[^'"]*?from\s+'(\.[^']+)'/g)) {
        const target = resolve(dirname(file), match[1]!.replace(/\.js$/, '.ts'));
        const to = folderOf(target);
        if (to === from) continue;
        const where = `${relative(SRC, file)} imports ${relative(SRC, target)}`;
        if (!(ALLOWED[from] ?? []).includes(to))
          violations.push(`${where}: ${from} may not import ${to}`);
        else if (to !== '.' && relative(join(SRC, to), target) !== (ENTRY[to] ?? 'index.ts')) {
          violations.push(`${where}: import ${to} only through ${ENTRY[to] ?? 'index.ts'}`);
        }
      }
    }
    expect(violations).toEqual([]);
  });
});

/** Every import (type-only ones too) from one file of `folder` to another of the same folder. */
function importGraph(folder: string): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const file of sourceFiles(join(SRC, folder))) {
    const targets: string[] = [];
    const text = readFileSync(file, 'utf8');
    for (const match of text.matchAll(/(?:import|export)[^'"]*?from\s+'(\.[^']+)'/g)) {
      const target = resolve(dirname(file), match[1]!.replace(/\.js$/, '.ts'));
      if (folderOf(target) === folder) targets.push(relative(SRC, target));
    }
    graph.set(relative(SRC, file), targets);
  }
  return graph;
}

/** One import circle of the graph as a path that returns to its start, or null. */
function findCircle(graph: Map<string, string[]>): string[] | null {
  const state = new Map<string, 'open' | 'done'>();
  const path: string[] = [];
  const visit = (file: string): string[] | null => {
    if (state.get(file) === 'done') return null;
    if (state.get(file) === 'open') return [...path.slice(path.indexOf(file)), file];
    state.set(file, 'open');
    path.push(file);
    for (const target of graph.get(file) ?? []) {
      const circle = visit(target);
      if (circle !== null) return circle;
    }
    path.pop();
    state.set(file, 'done');
    return null;
  };
  for (const file of graph.keys()) {
    const circle = visit(file);
    if (circle !== null) return circle;
  }
  return null;
}

describe('import circles', () => {
  // A circle makes every file in it part of every other: none can be read or changed alone.
  // Lower modules declare the small interfaces they need; upper ones implement them.
  for (const folder of ['net', 'shard', 'log', 'mgmt']) {
    it(`src/${folder} has none, type-only imports included`, () => {
      const graph = importGraph(folder);
      expect(graph.size).toBeGreaterThan(1);
      expect(findCircle(graph)).toBeNull();
    });
  }

  it('finds a circle when there is one', () => {
    const graph = new Map([
      ['a.ts', ['b.ts']],
      ['b.ts', ['c.ts']],
      ['c.ts', ['a.ts']],
    ]);
    expect(findCircle(graph)).toEqual(['a.ts', 'b.ts', 'c.ts', 'a.ts']);
  });
});

describe('file size', () => {
  // A file grows past ~600 lines by accretion; one that needs to be that long says why at its
  // top. Generated files are exempt.
  it('every source file over 600 lines says why in its opening comment', () => {
    const unexplained: string[] = [];
    for (const file of sourceFiles(SRC)) {
      const text = readFileSync(file, 'utf8');
      const lines = text.split('\n');
      if (lines.length <= 600) continue;
      const header = lines
        .slice(0, 20)
        .filter((line) => line.startsWith('//'))
        .join('\n');
      if (header.includes('generated, do not edit')) continue;
      if (!/Over 600 lines because/.test(header)) {
        unexplained.push(`${relative(SRC, file)} (${lines.length} lines)`);
      }
    }
    expect(unexplained).toEqual([]);
  });
});
