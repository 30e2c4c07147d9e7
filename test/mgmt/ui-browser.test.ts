// The management UI in a real browser: Debian's headless Chromium driven by playwright-core
// (never a downloaded browser). Log in, see a queue appear after an amqplib client declares
// it, watch its count follow publishes, purge it. Screenshots go to test-artifacts/.

import { existsSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import amqp from 'amqplib';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, STATS_POLL, startTestBroker, type TestBroker } from '../helpers/mgmt.js';
import { pollUntil } from '../helpers/poll.js';

const CHROMIUM = '/usr/bin/chromium';
const ARTIFACTS = join(dirname(fileURLToPath(import.meta.url)), '../../test-artifacts');
const T = 60_000;
const isChromiumMissing = !existsSync(CHROMIUM);

if (isChromiumMissing) {
  process.stderr.write(
    `skipping the management UI browser test: ${CHROMIUM} is missing (apt-get install chromium)\n`,
  );
}

describe.skipIf(isChromiumMissing)('management UI in headless Chromium', () => {
  let broker: TestBroker;
  let browser: Browser;
  let page: Page;

  beforeAll(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    broker = await startTestBroker({ shardCount: 2 });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
    });
    page = await browser.newPage({ viewport: { width: 1366, height: 900 } });
    // Purge and delete ask for confirmation.
    page.on('dialog', (dialog) => void dialog.accept());
  }, T);

  afterAll(async () => {
    await browser?.close();
    await broker?.close();
  });

  it(
    'logs in, shows a declared queue, follows its depth and purges it',
    async () => {
      expect.hasAssertions();
      const base = `http://127.0.0.1:${broker.mgmtPort}/`;
      await page.goto(base);

      await page.fill('input[name=username]', 'guest');
      await page.fill('input[name=password]', 'wrong');
      await page.click('#login button[type=submit]');
      await expect
        .poll(() => page.textContent('#login-error'), { timeout: 10_000 })
        .toContain('Login failed');

      await page.fill('input[name=password]', 'guest');
      await page.click('#login button[type=submit]');
      await page.waitForSelector('#total-queues', { timeout: 10_000 });
      expect(await page.textContent('#who')).toContain('guest');
      await page.screenshot({ path: join(ARTIFACTS, 'mgmt-overview.png'), fullPage: true });

      const connection = await amqp.connect(broker.url);
      try {
        const channel = await connection.createConfirmChannel();
        await channel.assertQueue('ui-queue', { durable: true });

        await page.click('nav a[data-page=queues]');
        const row = 'tr[data-name="ui-queue"]';
        await page.waitForSelector(row, { timeout: 15_000 });
        expect(await page.textContent(`${row} td.messages`)).toBe('0');

        for (let i = 0; i < 7; i++) channel.sendToQueue('ui-queue', Buffer.from(`hello ${i}`));
        await channel.waitForConfirms();
        await expect
          .poll(() => page.textContent(`${row} td.messages`), { timeout: 15_000, interval: 250 })
          .toBe('7');
        await page.screenshot({ path: join(ARTIFACTS, 'mgmt-queues.png'), fullPage: true });

        await page.click(`${row} a`);
        await page.waitForSelector('#queue-messages', { timeout: 10_000 });
        await expect
          .poll(() => page.textContent('#queue-messages .value'), { timeout: 10_000 })
          .toBe('7');
        await page.click('#get-messages button[type=submit]');
        await page.waitForSelector('#got-messages pre', { timeout: 10_000 });
        expect(await page.textContent('#got-messages pre')).toBe('hello 0');
        await page.screenshot({ path: join(ARTIFACTS, 'mgmt-queue.png'), fullPage: true });

        await page.click('#purge-queue');
        await expect
          .poll(() => page.textContent('#queue-messages .value'), { timeout: 15_000 })
          .toBe('0');
        const queue = await pollUntil(
          async () => (await api(broker, 'GET', '/api/queues/%2F/ui-queue')).body,
          (value) => (value as { messages: number }).messages === 0,
          STATS_POLL,
        );
        expect((queue as { messages: number }).messages).toBe(0);
        expect((await channel.checkQueue('ui-queue')).messageCount).toBe(0);
        await page.screenshot({ path: join(ARTIFACTS, 'mgmt-queue-purged.png'), fullPage: true });

        // Publish from the default exchange's page; the queue's page counts it.
        await page.click('nav a[data-page=exchanges]');
        await page.click('#exchanges-table a[href="#/exchanges/%2F/amq.default"]');
        await page.fill('#publish input[name=routing_key]', 'ui-queue');
        await page.fill('#publish textarea[name=payload]', 'from the browser');
        await page.click('#publish button[type=submit]');
        await expect
          .poll(() => page.textContent('#publish-result'), { timeout: 10_000 })
          .toBe('Message published.');
        await page.goto(`${base}#/queues/%2F/ui-queue`);
        await expect
          .poll(() => page.textContent('#queue-messages .value'), { timeout: 15_000 })
          .toBe('1');

        // The exchanges list shows publish rates in and out.
        await page.click('nav a[data-page=exchanges]');
        const fanout = '#exchanges-table tr[data-name="amq.fanout"]';
        await page.waitForSelector(fanout, { timeout: 10_000 });
        expect(
          await page.$$eval('#exchanges-table th', (cells: { textContent: string | null }[]) =>
            cells.map((cell) => cell.textContent),
          ),
        ).toEqual(expect.arrayContaining(['Rate in', 'Rate out']));
        expect(await page.textContent(`${fanout} td.rate-in`)).toMatch(/^(\d[\d.,]*\/s)?$/);

        // The connections list shows the name the client gave its connection.
        const named = await amqp.connect(broker.url, {
          clientProperties: { connection_name: 'ui-named' },
        });
        try {
          await page.click('nav a[data-page=connections]');
          await expect
            .poll(
              () =>
                page.$$eval(
                  '#connections-table td.user-provided-name',
                  (cells: { textContent: string | null }[]) =>
                    cells.map((cell) => cell.textContent),
                ),
              { timeout: 10_000, interval: 250 },
            )
            .toContain('ui-named');
          await page.screenshot({ path: join(ARTIFACTS, 'mgmt-connections.png'), fullPage: true });
        } finally {
          await named.close();
        }

        await page.click('nav a[data-page=admin]');
        await page.waitForSelector('#users-table tr[data-name="guest"]', { timeout: 10_000 });
        await page.fill('#add-vhost input[name=vhost]', 'from-ui');
        await page.click('#add-vhost button[type=submit]');
        await page.waitForSelector('#vhosts-table tr[data-name="from-ui"]', { timeout: 10_000 });
        await page.screenshot({ path: join(ARTIFACTS, 'mgmt-admin.png'), fullPage: true });
      } finally {
        await connection.close();
      }
    },
    T,
  );
});
