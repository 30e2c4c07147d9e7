// RabbitMQ's Ruby client (Bunny, Debian's ruby-bunny, which .ci/run installs) against Warren,
// on the behaviours where its own specs once saw Warren differ from RabbitMQ.

import { execFile } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { useBroker } from '../helpers/e2e.js';

const run = promisify(execFile);
const SCRIPTS = join(dirname(fileURLToPath(import.meta.url)), 'ruby');

describe('Bunny', () => {
  const broker = useBroker(2);

  async function runScript(name: string): Promise<unknown> {
    const { stdout } = await run('ruby', [join(SCRIPTS, name), broker().url], {
      timeout: 30_000,
    });
    return JSON.parse(stdout) as unknown;
  }

  // Regression test. The bug was: Warren ignored the CC and BCC headers (Bunny's
  // sender_selected_distribution_spec: 0 of 10 messages reached the CC queues).
  it(
    'routes by CC and BCC, once per queue, and delivers without BCC',
    { timeout: 60_000 },
    async () => {
      const result = await runScript('sender_selected.rb');
      expect(result).toEqual({
        counts: { one: 10, two: 10, three: 10, four: 10, five: 0 },
        bcc_copy: {
          body: 'message 0',
          routing_key: 'one',
          headers: { CC: ['two', 'three', 'two'] },
        },
      });
    },
  );
});
