// Property test for the topic trie: after random sequences of bindings added and removed, every
// routing key matches exactly the values a naive regex model of RabbitMQ's topic rules matches.
// Patterns and keys are drawn from a tiny vocabulary (with `*`, `#` and empty words) so that
// matches are frequent. fast-check prints the seed and the shrunk case on failure.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { TopicTrie } from './topic-trie.js';

/** RabbitMQ's split: "" has no words, otherwise every dot separates two (maybe empty) words. */
function wordsOf(key: string): string[] {
  return key === '' ? [] : key.split('.');
}

function escapeRegex(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * The model: a pattern becomes a regex over the key written as ".w1.w2...", one dot before each
 * word, so "#" can take zero words without a dangling separator.
 */
function patternToRegex(pattern: string): RegExp {
  let source = '';
  for (const word of wordsOf(pattern)) {
    if (word === '*') source += '\\.[^.]*';
    else if (word === '#') source += '(?:\\.[^.]*)*';
    else source += `\\.${escapeRegex(word)}`;
  }
  return new RegExp(`^${source}$`);
}

function keyForRegex(routingKey: string): string {
  return wordsOf(routingKey)
    .map((word) => `.${word}`)
    .join('');
}

const word = fc.constantFrom('a', 'b', 'cd', '', '*', '#');
const pattern = fc.array(word, { minLength: 0, maxLength: 5 }).map((words) => words.join('.'));
const routingKey = fc
  .array(fc.constantFrom('a', 'b', 'cd', '', '*', '#'), { minLength: 0, maxLength: 6 })
  .map((words) => words.join('.'));

type Operation =
  { kind: 'add'; pattern: string; value: number } | { kind: 'remove'; index: number };

const operation: fc.Arbitrary<Operation> = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant('add' as const),
      pattern,
      value: fc.integer({ min: 0, max: 7 }),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('remove' as const), index: fc.nat() }) },
);

describe('TopicTrie against a regex model', () => {
  it('matches exactly what the model matches, after random adds and removes', () => {
    expect.hasAssertions();
    fc.assert(
      fc.property(
        fc.array(operation, { maxLength: 40 }),
        fc.array(routingKey, { minLength: 1, maxLength: 20 }),
        (operations, keys) => {
          const trie = new TopicTrie<number>();
          const bindings: { pattern: string; value: number }[] = [];
          for (const step of operations) {
            if (step.kind === 'add') {
              trie.add(step.pattern, step.value);
              bindings.push({ pattern: step.pattern, value: step.value });
            } else if (bindings.length > 0) {
              const [removed] = bindings.splice(step.index % bindings.length, 1);
              expect(trie.remove(removed!.pattern, removed!.value)).toBe(true);
            }
          }
          for (const key of keys) {
            const found = new Set<number>();
            trie.match(key, { add: (value) => found.add(value) });
            const expected = new Set(
              bindings
                .filter((binding) => patternToRegex(binding.pattern).test(keyForRegex(key)))
                .map((binding) => binding.value),
            );
            expect([...found].sort(), `key ${JSON.stringify(key)}`).toEqual([...expected].sort());
          }
        },
      ),
      { numRuns: 500 },
    );
  });

  it('the model itself agrees with the RabbitMQ examples', () => {
    expect(patternToRegex('*').test(keyForRegex(''))).toBe(false);
    expect(patternToRegex('#').test(keyForRegex(''))).toBe(true);
    expect(patternToRegex('a.#.b').test(keyForRegex('a.b'))).toBe(true);
    expect(patternToRegex('a.*.b').test(keyForRegex('a..b'))).toBe(true);
    expect(patternToRegex('*').test(keyForRegex('a.b'))).toBe(false);
  });
});
