// RabbitMQ's list parameters: `sort` (a dotted field path) and `sort_reverse` on any list, and,
// when `page` is given, `page_size`, `name` and `use_regex`, which turn the answer into a page
// object (items, page, page_count, page_size, filtered_count, item_count, total_count).

import { badRequest } from './http-errors.js';

const PAGE_SIZE_MAX = 500;
const PAGE_SIZE_DEFAULT = 100;

function fieldAt(item: unknown, path: string): unknown {
  let value: unknown = item;
  for (const key of path.split('.')) {
    if (value === null || typeof value !== 'object') return undefined;
    value = (value as Record<string, unknown>)[key];
  }
  return value;
}

function compare(left: unknown, right: unknown): number {
  if (left === right) return 0;
  if (left === undefined || left === null) return -1;
  if (right === undefined || right === null) return 1;
  if (typeof left === 'number' && typeof right === 'number') return left - right;
  return String(left).localeCompare(String(right));
}

function parsePositiveInteger(text: string, name: string): number {
  if (!/^\d+$/.test(text) || Number(text) < 1) {
    throw badRequest(`${name} must be a positive integer, got '${text}'`);
  }
  return Number(text);
}

/** Sorts, and pages when asked; returns a list or RabbitMQ's page object. */
export function listReply<T extends { name?: unknown }>(
  items: T[],
  query: URLSearchParams,
): T[] | Record<string, unknown> {
  const sortKey = query.get('sort');
  const isReverse = query.get('sort_reverse') === 'true';
  let sorted = items;
  if (sortKey !== null && sortKey !== '') {
    sorted = [...items].sort((left, right) =>
      compare(fieldAt(left, sortKey), fieldAt(right, sortKey)),
    );
  }
  if (isReverse) sorted = sorted === items ? [...items].reverse() : sorted.reverse();
  const pageText = query.get('page');
  if (pageText === null) return sorted;
  const page = parsePositiveInteger(pageText, 'page');
  const pageSizeText = query.get('page_size');
  const pageSize =
    pageSizeText === null ? PAGE_SIZE_DEFAULT : parsePositiveInteger(pageSizeText, 'page_size');
  if (pageSize > PAGE_SIZE_MAX) {
    throw badRequest(`page_size must be at most ${PAGE_SIZE_MAX}, got ${pageSize}`);
  }
  const name = query.get('name') ?? '';
  let filtered = sorted;
  if (name !== '') {
    if (query.get('use_regex') === 'true') {
      let pattern: RegExp;
      try {
        pattern = new RegExp(name);
      } catch {
        throw badRequest(`name is not a valid regular expression: '${name}'`);
      }
      filtered = sorted.filter((item) => pattern.test(String(item.name)));
    } else {
      filtered = sorted.filter((item) => String(item.name).includes(name));
    }
  }
  const pageCount = Math.max(1, Math.ceil(filtered.length / pageSize));
  if (page > pageCount) {
    throw badRequest(`page ${page} is beyond the last page ${pageCount}`);
  }
  const pageItems = filtered.slice((page - 1) * pageSize, page * pageSize);
  return {
    filtered_count: filtered.length,
    item_count: pageItems.length,
    items: pageItems,
    page,
    page_count: pageCount,
    page_size: pageSize,
    total_count: items.length,
  };
}

/** Keeps only the listed (dotted) fields of an object, as RabbitMQ's `columns` parameter does. */
function pick(item: unknown, columns: string[]): unknown {
  if (item === null || typeof item !== 'object' || Array.isArray(item)) return item;
  const result: Record<string, unknown> = {};
  for (const column of columns) {
    const value = fieldAt(item, column);
    if (value === undefined) continue;
    const keys = column.split('.');
    let target = result;
    for (const key of keys.slice(0, -1)) {
      target[key] ??= {};
      target = target[key] as Record<string, unknown>;
    }
    target[keys[keys.length - 1]!] = value;
  }
  return result;
}

/** Applies `columns=a,b.c` to a reply: an object, a list, or a page object's items. */
export function selectColumns(value: unknown, query: URLSearchParams): unknown {
  const text = query.get('columns');
  if (text === null || text === '') return value;
  const columns = text.split(',').filter((column) => column !== '');
  if (Array.isArray(value)) return value.map((item) => pick(item, columns));
  if (
    value !== null &&
    typeof value === 'object' &&
    Array.isArray((value as { items?: unknown }).items)
  ) {
    const page = value as { items: unknown[] };
    return { ...page, items: page.items.map((item) => pick(item, columns)) };
  }
  return pick(value, columns);
}
