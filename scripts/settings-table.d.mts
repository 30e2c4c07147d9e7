// Types for settings-table.mjs.
import type { Setting } from '../src/net/index.js';

export const START_MARKER: string;
export const END_MARKER: string;
export const OPERATIONS_DOC: string;
export function renderSettingsTable(settings: readonly Setting[]): string;
export function replaceSettingsBlock(markdown: string, table: string): string;
