// Unit tests for headers-exchange matching, as rabbit_exchange_type_headers does it: x-match all
// (the default), any, all-with-x and any-with-x; keys starting with "x-" ignored unless the mode
// ends in -with-x; x-match itself never compared; a void pattern value matching on presence; and
// values compared by value across integer widths and between longstr and bytes.

import { describe, expect, it } from 'vitest';
import { type FieldTable, TypedField } from '../codec/index.js';
import { compileHeadersPattern, headersMatch, type HeadersPattern } from './headers-match.js';

function pattern(args: FieldTable): HeadersPattern {
  const compiled = compileHeadersPattern(args);
  if (typeof compiled === 'string') throw new Error(`unexpected error: ${compiled}`);
  return compiled;
}

function isMatch(args: FieldTable, headers: FieldTable | null): boolean {
  return headersMatch(pattern(args), headers);
}

describe('headers matching', () => {
  describe('x-match all (the default)', () => {
    it('needs every pattern key present with an equal value', () => {
      const args = { 'x-match': 'all', format: 'pdf', type: 'report' };
      expect(isMatch(args, { format: 'pdf', type: 'report' })).toBe(true);
      expect(isMatch(args, { format: 'pdf', type: 'report', extra: 1 })).toBe(true);
      expect(isMatch(args, { format: 'pdf' })).toBe(false);
      expect(isMatch(args, { format: 'pdf', type: 'log' })).toBe(false);
      expect(isMatch(args, {})).toBe(false);
      expect(isMatch(args, null)).toBe(false);
    });

    it('is the mode when x-match is absent', () => {
      expect(isMatch({ format: 'pdf', type: 'report' }, { format: 'pdf' })).toBe(false);
      expect(isMatch({ format: 'pdf', type: 'report' }, { format: 'pdf', type: 'report' })).toBe(
        true,
      );
    });

    it('matches everything when the pattern has no keys (or only x- keys)', () => {
      expect(isMatch({}, null)).toBe(true);
      expect(isMatch({}, { a: 1 })).toBe(true);
      expect(isMatch({ 'x-match': 'all', 'x-other': 1 }, null)).toBe(true);
    });
  });

  describe('x-match any', () => {
    it('needs one pattern key present with an equal value', () => {
      const args = { 'x-match': 'any', format: 'pdf', type: 'report' };
      expect(isMatch(args, { format: 'pdf' })).toBe(true);
      expect(isMatch(args, { type: 'report', other: 'x' })).toBe(true);
      expect(isMatch(args, { format: 'zip', type: 'log' })).toBe(false);
      expect(isMatch(args, { other: 'pdf' })).toBe(false);
      expect(isMatch(args, null)).toBe(false);
    });

    it('matches nothing when the pattern has no keys (or only x- keys)', () => {
      expect(isMatch({ 'x-match': 'any' }, { a: 1 })).toBe(false);
      expect(isMatch({ 'x-match': 'any', 'x-a': 1 }, { 'x-a': 1 })).toBe(false);
    });
  });

  describe('x- keys', () => {
    it('are ignored by all and any, even when the message carries them', () => {
      expect(isMatch({ 'x-match': 'all', 'x-a': 1, b: 2 }, { b: 2 })).toBe(true);
      expect(isMatch({ 'x-match': 'all', 'x-a': 1, b: 2 }, { 'x-a': 9, b: 2 })).toBe(true);
      expect(isMatch({ 'x-match': 'any', 'x-a': 1 }, { 'x-a': 1 })).toBe(false);
    });

    it('are compared by all-with-x', () => {
      const args = { 'x-match': 'all-with-x', 'x-a': 1, b: 2 };
      expect(isMatch(args, { 'x-a': 1, b: 2 })).toBe(true);
      expect(isMatch(args, { b: 2 })).toBe(false);
      expect(isMatch(args, { 'x-a': 2, b: 2 })).toBe(false);
    });

    it('are compared by any-with-x', () => {
      const args = { 'x-match': 'any-with-x', 'x-a': 1, b: 2 };
      expect(isMatch(args, { 'x-a': 1 })).toBe(true);
      expect(isMatch(args, { b: 2 })).toBe(true);
      expect(isMatch(args, { 'x-a': 2, b: 3 })).toBe(false);
    });

    it('never include x-match itself, which messages do not carry', () => {
      expect(isMatch({ 'x-match': 'all-with-x', 'x-a': 1 }, { 'x-a': 1 })).toBe(true);
      expect(isMatch({ 'x-match': 'any-with-x' }, { 'x-match': 'any-with-x' })).toBe(false);
      expect(isMatch({ 'x-match': 'all-with-x' }, null)).toBe(true);
    });
  });

  describe('void pattern values match on presence', () => {
    it('with all', () => {
      const args = { 'x-match': 'all', flag: null, kind: 'a' };
      expect(isMatch(args, { flag: 'anything', kind: 'a' })).toBe(true);
      expect(isMatch(args, { flag: null, kind: 'a' })).toBe(true);
      expect(isMatch(args, { kind: 'a' })).toBe(false);
    });

    it('with any', () => {
      const args = { 'x-match': 'any', flag: null };
      expect(isMatch(args, { flag: 0 })).toBe(true);
      expect(isMatch(args, { other: 0 })).toBe(false);
    });

    it('a void message value equals only a void or absent-valued pattern', () => {
      expect(isMatch({ flag: 'x' }, { flag: null })).toBe(false);
    });
  });

  describe('value comparison', () => {
    it('compares integers by value whatever their wire width', () => {
      expect(isMatch({ n: 1 }, { n: new TypedField('b', 1) })).toBe(true);
      expect(isMatch({ n: new TypedField('l', 5) }, { n: 5 })).toBe(true);
      expect(isMatch({ n: 1 }, { n: 2 })).toBe(false);
    });

    it('does not equate a number with its text', () => {
      expect(isMatch({ n: 1 }, { n: '1' })).toBe(false);
      expect(isMatch({ n: '1' }, { n: 1 })).toBe(false);
    });

    it('compares longstr and byte-array values as bytes', () => {
      expect(isMatch({ s: 'abc' }, { s: Buffer.from('abc') })).toBe(true);
      expect(isMatch({ s: Buffer.from('abc') }, { s: 'abc' })).toBe(true);
      expect(isMatch({ s: 'abc' }, { s: 'abd' })).toBe(false);
    });

    it('compares booleans and nested tables', () => {
      expect(isMatch({ b: true }, { b: true })).toBe(true);
      expect(isMatch({ b: true }, { b: false })).toBe(false);
      expect(isMatch({ t: { k: 'v' } }, { t: { k: 'v' } })).toBe(true);
      expect(isMatch({ t: { k: 'v' } }, { t: { k: 'w' } })).toBe(false);
    });

    it('keys are case-sensitive', () => {
      expect(isMatch({ Key: 'v' }, { key: 'v' })).toBe(false);
    });
  });

  describe('x-match validation', () => {
    it.each(['all', 'any', 'all-with-x', 'any-with-x'])('accepts %s', (mode) => {
      expect(typeof compileHeadersPattern({ 'x-match': mode })).toBe('object');
    });

    it.each([['foo'], ['ALL'], [''], [1], [true]])('refuses %j', (mode) => {
      const result = compileHeadersPattern({ 'x-match': mode });
      expect(typeof result).toBe('string');
      expect(result).toMatch(/expected all, any, all-with-x, or any-with-x/);
    });

    // Regression test (text only). The bug was: RabbitMQ formats the value with ~tp, an Erlang binary:
    // Invalid x-match field value <<"foo">>; ... (rabbit_exchange_type_headers validate_binding).
    // Warren prints it as a JSON string, "foo".
    it('words the refusal as RabbitMQ does', () => {
      expect(compileHeadersPattern({ 'x-match': 'foo' })).toBe(
        'Invalid x-match field value <<"foo">>; expected all, any, all-with-x, or any-with-x',
      );
    });
  });
});
