// Writes the settings table of docs/operations.md (between its settings-table markers) from the
// settings schema, SETTINGS in src/net/options.ts, as built in dist/. Run with
// `npm run docs:settings`; test/tidy/settings-table.test.ts fails when the committed table
// differs from what the schema gives. Rows are padded as prettier pads a markdown table, so
// formatting the file leaves the block as it is.

import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const START_MARKER = '<!-- settings-table:start -->';
export const END_MARKER = '<!-- settings-table:end -->';
export const OPERATIONS_DOC = join(
  dirname(fileURLToPath(import.meta.url)),
  '../docs/operations.md',
);

const HEADER = ['flag', 'environment', 'option key', 'default', 'meaning'];

function code(text) {
  return `\`${text}\``;
}

function cell(text) {
  return text.replace(/\|/g, '\\|');
}

function row(setting) {
  const flag =
    setting.flag === null
      ? 'none (library only)'
      : setting.key === 'isMgmtEnabled'
        ? `${code(`--${setting.flag}`)} / ${code('--no-mgmt')}`
        : code(`--${setting.flag}`);
  const defaultText =
    setting.libraryDefaultText === null
      ? setting.defaultText
      : `${setting.defaultText}; library: ${setting.libraryDefaultText}`;
  const meaning = setting.details === '' ? setting.help : `${setting.help}; ${setting.details}`;
  return [
    flag,
    setting.env === null ? '' : code(setting.env),
    code(setting.key),
    defaultText,
    meaning,
  ].map(cell);
}

/** The markdown table of every setting, padded as prettier pads it. */
export function renderSettingsTable(settings) {
  const rows = [HEADER, ...settings.map(row)];
  const widths = HEADER.map((_, column) => Math.max(...rows.map((cells) => cells[column].length)));
  const line = (cells) =>
    `| ${cells.map((text, column) => text.padEnd(widths[column])).join(' | ')} |`;
  return [
    line(HEADER),
    `| ${widths.map((width) => '-'.repeat(width)).join(' | ')} |`,
    ...rows.slice(1).map(line),
  ].join('\n');
}

/** `markdown` with the text between the markers replaced by `table`. */
export function replaceSettingsBlock(markdown, table) {
  const start = markdown.indexOf(START_MARKER);
  const end = markdown.indexOf(END_MARKER);
  if (start < 0 || end < start) throw new Error(`no ${START_MARKER} ... ${END_MARKER} block`);
  const notice = '<!-- generated from src/net/options.ts by npm run docs:settings; do not edit -->';
  return `${markdown.slice(0, start)}${START_MARKER}\n${notice}\n\n${table}\n\n${markdown.slice(end)}`;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { SETTINGS } = await import('../dist/net/index.js');
  const before = readFileSync(OPERATIONS_DOC, 'utf8');
  const after = replaceSettingsBlock(before, renderSettingsTable(SETTINGS));
  writeFileSync(OPERATIONS_DOC, after);
  process.stdout.write(
    before === after
      ? 'docs/operations.md: settings table unchanged\n'
      : 'docs/operations.md: settings table rewritten\n',
  );
}
