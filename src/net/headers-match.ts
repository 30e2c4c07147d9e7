// Headers-exchange matching as RabbitMQ does it: a binding's arguments are the pattern, x-match
// says whether all or any must match, keys starting with "x-" are ignored unless x-match is
// all-with-x or any-with-x, and a pattern value of void (null) matches on presence alone.

import type { FieldTable, FieldValue } from '../codec/index.js';
import { fieldTablesEquivalent } from '../codec/index.js';

export type HeadersMatchKind = 'all' | 'any' | 'all-with-x' | 'any-with-x';

export interface HeadersPattern {
  kind: HeadersMatchKind;
  entries: [string, FieldValue][];
}

/** Builds a pattern from binding arguments, or returns an error text for a bad x-match. */
export function compileHeadersPattern(args: FieldTable): HeadersPattern | string {
  const xMatch = args['x-match'];
  let kind: HeadersMatchKind = 'all';
  if (xMatch !== undefined) {
    if (
      xMatch !== 'all' &&
      xMatch !== 'any' &&
      xMatch !== 'all-with-x' &&
      xMatch !== 'any-with-x'
    ) {
      // RabbitMQ prints the value as an Erlang binary.
      return `Invalid x-match field value <<${JSON.stringify(String(xMatch))}>>; expected all, any, all-with-x, or any-with-x`;
    }
    kind = xMatch;
  }
  const includeX = kind === 'all-with-x' || kind === 'any-with-x';
  const entries: [string, FieldValue][] = [];
  for (const [key, value] of Object.entries(args)) {
    if (key === 'x-match') continue;
    if (key.startsWith('x-') && !includeX) continue;
    entries.push([key, value]);
  }
  return { kind, entries };
}

function valuesEqual(pattern: FieldValue, actual: FieldValue): boolean {
  if (pattern === actual) return true;
  return fieldTablesEquivalent({ v: pattern }, { v: actual });
}

export function headersMatch(pattern: HeadersPattern, headers: FieldTable | null): boolean {
  const isAll = pattern.kind === 'all' || pattern.kind === 'all-with-x';
  if (pattern.entries.length === 0) return isAll;
  for (const [key, expected] of pattern.entries) {
    const isPresent = headers !== null && Object.hasOwn(headers, key);
    const isMatch = isPresent && (expected === null || valuesEqual(expected, headers[key]!));
    if (isAll && !isMatch) return false;
    if (!isAll && isMatch) return true;
  }
  return isAll;
}
