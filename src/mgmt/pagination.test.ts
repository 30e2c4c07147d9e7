import { describe, expect, it } from 'vitest';
import { listReply, selectColumns } from './pagination.js';

const items = ['b', 'a', 'c', 'ab'].map((name, index) => ({ name, depth: { messages: index } }));

describe('listReply', () => {
  it('returns the list as it is without parameters', () => {
    expect(listReply(items, new URLSearchParams())).toEqual(items);
  });

  it('sorts by a dotted field, reversed on request', () => {
    const sorted = listReply(items, new URLSearchParams('sort=depth.messages&sort_reverse=true'));
    expect((sorted as typeof items).map((item) => item.name)).toEqual(['ab', 'c', 'a', 'b']);
  });

  it('pages with RabbitMQ counts, filtering by name substring or regex', () => {
    expect(listReply(items, new URLSearchParams('page=1&page_size=1&name=a&sort=name'))).toEqual({
      filtered_count: 2,
      item_count: 1,
      items: [items[1]],
      page: 1,
      page_count: 2,
      page_size: 1,
      total_count: 4,
    });
    const regex = listReply(items, new URLSearchParams('page=1&name=^a$&use_regex=true'));
    expect((regex as { items: unknown[] }).items).toEqual([items[1]]);
  });

  it('keeps only the columns asked for, nested ones included', () => {
    const query = new URLSearchParams('columns=name,depth.messages,missing');
    expect(selectColumns(items.slice(0, 1), query)).toEqual([
      { name: 'b', depth: { messages: 0 } },
    ]);
    expect(selectColumns(items[1], new URLSearchParams('columns=name'))).toEqual({ name: 'a' });
    const page = listReply(items, new URLSearchParams('page=1&page_size=1'));
    expect(selectColumns(page, new URLSearchParams('columns=name'))).toMatchObject({
      items: [{ name: 'b' }],
      total_count: 4,
    });
  });

  it('refuses bad page parameters and regexes with a 400', () => {
    for (const query of [
      'page=0',
      'page=x',
      'page=1&page_size=0',
      'page=3&page_size=2',
      'page=1&name=(&use_regex=true',
    ]) {
      expect(() => listReply(items, new URLSearchParams(query)), query).toThrow(
        expect.objectContaining({ status: 400 }),
      );
    }
  });
});
