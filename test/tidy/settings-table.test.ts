// The settings table in docs/operations.md is generated from the settings schema (SETTINGS in
// src/net/options.ts) by `npm run docs:settings`; this fails when the committed table drifts
// from the schema, and says how to bring it back.

import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  OPERATIONS_DOC,
  renderSettingsTable,
  replaceSettingsBlock,
} from '../../scripts/settings-table.mjs';
import { SETTINGS } from '../../src/net/index.js';

describe('settings table', () => {
  it('docs/operations.md holds the table the schema generates (npm run docs:settings)', () => {
    const committed = readFileSync(OPERATIONS_DOC, 'utf8');
    const generated = replaceSettingsBlock(committed, renderSettingsTable(SETTINGS));
    expect(committed).toBe(generated);
  });

  it('lists every setting once, by option key', () => {
    const table = renderSettingsTable(SETTINGS);
    for (const setting of SETTINGS) {
      expect(table.split(`| \`${setting.key}\` `).length - 1, setting.key).toBe(1);
    }
  });
});
