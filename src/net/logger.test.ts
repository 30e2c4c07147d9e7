import { describe, expect, it } from 'vitest';
import { formatHumanLine } from './log-format.js';
import { createLogger } from './logger.js';

function capture(format: 'human' | 'json', level: 'debug' | 'info' = 'info') {
  const lines: string[] = [];
  const logger = createLogger(level, format, (text) => lines.push(text));
  return { logger, lines };
}

describe('logger', () => {
  it('writes one JSON object per line with level, time, message and context', () => {
    expect.hasAssertions();
    const { logger, lines } = capture('json');
    logger.info({ connection: 'a -> b', user: 'guest', vhost: '/' }, 'connection opened');
    expect(lines).toHaveLength(1);
    const entry = JSON.parse(lines[0]!) as Record<string, unknown>;
    expect(entry).toMatchObject({
      level: 'info',
      msg: 'connection opened',
      connection: 'a -> b',
      user: 'guest',
      vhost: '/',
      pid: process.pid,
    });
    expect(typeof entry['time']).toBe('string');
  });

  it('writes readable lines: time, level, message, key=value context', () => {
    expect.hasAssertions();
    const { logger, lines } = capture('human');
    logger.warn({ shard: 1, reason: 'no answer for 5000 ms' }, 'shard not answering');
    expect(lines[0]).toMatch(
      /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z warn {2}shard not answering shard=1 reason="no answer for 5000 ms"\n$/,
    );
  });

  it('puts an error stack on indented lines below', () => {
    expect.hasAssertions();
    const { logger, lines } = capture('human');
    logger.error({ err: new Error('disk on fire') }, 'shard failed');
    expect(lines[0]).toMatch(/error shard failed\n {4}Error: disk on fire\n {8}at /);
  });

  it('drops lines below the level, and the level changes at run time', () => {
    expect.hasAssertions();
    const { logger, lines } = capture('json');
    logger.debug('hidden');
    logger.level = 'debug';
    logger.debug('shown');
    expect(lines.map((line) => (JSON.parse(line) as { msg: string }).msg)).toEqual(['shown']);
  });

  it('blanks keys that could hold secrets', () => {
    expect.hasAssertions();
    const { logger, lines } = capture('json');
    logger.info({ password: 'hunter2', user: { name: 'bob', password_hash: 'abc' } }, 'oops');
    expect(lines[0]).not.toContain('hunter2');
    expect(lines[0]).not.toContain('abc');
    expect(lines[0]).toContain('[redacted]');
  });

  it('passes a line that is not JSON through', () => {
    expect.hasAssertions();
    expect(formatHumanLine('plain text')).toBe('plain text\n');
  });
});
