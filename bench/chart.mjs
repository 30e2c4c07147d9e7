// Draws the benchmarks' charts as self-contained SVG (no dependencies, shown by the README):
// bench:compare's throughput per scenario as paired bars scaled to the faster broker and the
// end-to-end latency percentiles of the fixed-rate scenario on a log scale; the soak's samples
// over time as one small line panel per measure.

const WIDTH = 900;
const BAR_HEIGHT = 14;
const ROW_HEIGHT = 46;
const LABEL_WIDTH = 330;
const BAR_SPACE = 430;
const COLORS = { warren: '#2f7d4f', rabbitmq: '#f06b22' };
const PERCENTILES = [
  ['p50', 'p50Ms'],
  ['p95', 'p95Ms'],
  ['p99', 'p99Ms'],
  ['p99.9', 'p999Ms'],
  ['max', 'maxMs'],
];

function escape(text) {
  return String(text).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function text(x, y, content, attributes = '') {
  return `<text x="${x}" y="${y}" ${attributes}>${escape(content)}</text>`;
}

const STYLE =
  '.t{font:bold 18px sans-serif}.h{font:bold 14px sans-serif}.l{font:13px sans-serif}' +
  '.v{font:11px sans-serif;fill:#333}.r{font:bold 13px sans-serif;text-anchor:end}' +
  '.a{font:11px sans-serif;text-anchor:end;fill:#555}.m{font:12px sans-serif;text-anchor:middle}';

function svgDocument(height, parts) {
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}">`,
    `<style>${STYLE}</style>`,
    `<rect width="100%" height="100%" fill="#fff"/>`,
    ...parts,
    '</svg>',
    '',
  ].join('\n');
}

function throughputPanel(rows, top) {
  const parts = [
    text(20, top, 'Throughput (msg/s; bars scaled to the faster broker)', 'class="h"'),
  ];
  rows.forEach((row, index) => {
    const y = top + 20 + index * ROW_HEIGHT;
    const best = Math.max(row.warren ?? 0, row.rabbitmq ?? 0) || 1;
    parts.push(text(20, y + 18, row.name, 'class="l"'));
    [
      ['warren', row.warren, 0],
      ['rabbitmq', row.rabbitmq, BAR_HEIGHT + 2],
    ].forEach(([broker, value, offset]) => {
      if (value === null || value === undefined) return;
      const width = Math.max(1, (value / best) * BAR_SPACE);
      parts.push(
        `<rect x="${LABEL_WIDTH}" y="${y + offset}" width="${width.toFixed(1)}" height="${BAR_HEIGHT}" fill="${COLORS[broker]}"/>`,
        text(LABEL_WIDTH + width + 6, y + offset + 11, value.toLocaleString('en'), 'class="v"'),
      );
    });
    if (row.warren && row.rabbitmq) {
      parts.push(
        text(WIDTH - 20, y + 18, `${(row.warren / row.rabbitmq).toFixed(2)}×`, 'class="r"'),
      );
    }
  });
  return { svg: parts.join('\n'), height: 20 + rows.length * ROW_HEIGHT };
}

function latencyPanel(latency, top) {
  const height = 220;
  const left = 90;
  const right = WIDTH - 40;
  const plotTop = top + 25;
  const plotBottom = top + height - 30;
  const series = ['warren', 'rabbitmq'].filter((broker) => latency[broker] !== null);
  const values = series.flatMap((broker) => PERCENTILES.map(([, key]) => latency[broker][key]));
  const low = Math.log10(Math.max(0.01, Math.min(...values) * 0.8));
  const high = Math.log10(Math.max(...values) * 1.25);
  const yOf = (ms) =>
    plotBottom - ((Math.log10(Math.max(ms, 0.01)) - low) / (high - low)) * (plotBottom - plotTop);
  const xOf = (index) => left + (index / (PERCENTILES.length - 1)) * (right - left);
  const parts = [
    text(20, top, `End-to-end latency, ${latency.name} (ms, log scale)`, 'class="h"'),
    `<line x1="${left}" y1="${plotBottom}" x2="${right}" y2="${plotBottom}" stroke="#999"/>`,
  ];
  for (let exponent = Math.ceil(low); exponent <= Math.floor(high); exponent++) {
    const y = yOf(10 ** exponent);
    parts.push(
      `<line x1="${left}" y1="${y}" x2="${right}" y2="${y}" stroke="#ddd"/>`,
      text(
        left - 8,
        y + 4,
        10 ** exponent >= 1 ? 10 ** exponent : (10 ** exponent).toFixed(2),
        'class="a"',
      ),
    );
  }
  PERCENTILES.forEach(([label], index) => {
    parts.push(text(xOf(index), plotBottom + 18, label, 'class="m"'));
  });
  for (const broker of series) {
    const points = PERCENTILES.map(([, key], index) => [xOf(index), yOf(latency[broker][key])]);
    parts.push(
      `<polyline fill="none" stroke="${COLORS[broker]}" stroke-width="2.5" points="${points.map(([x, y]) => `${x.toFixed(1)},${y.toFixed(1)}`).join(' ')}"/>`,
      ...points.map(
        ([x, y], index) =>
          `<circle cx="${x.toFixed(1)}" cy="${y.toFixed(1)}" r="3.5" fill="${COLORS[broker]}"/>` +
          text(x + 6, y - 6, latency[broker][PERCENTILES[index][1]].toFixed(2), 'class="v"'),
      ),
    );
  }
  return { svg: parts.join('\n'), height };
}

/** `throughput`: [{name, warren, rabbitmq}]; `latency`: {name, warren, rabbitmq} or null. */
export function renderChart({ title, throughput, latency }) {
  const parts = [];
  let y = 30;
  parts.push(text(20, y, title, 'class="t"'));
  parts.push(
    `<rect x="${WIDTH - 250}" y="${y - 12}" width="12" height="12" fill="${COLORS.warren}"/>`,
    text(WIDTH - 232, y - 2, 'Warren', 'class="v"'),
    `<rect x="${WIDTH - 160}" y="${y - 12}" width="12" height="12" fill="${COLORS.rabbitmq}"/>`,
    text(WIDTH - 142, y - 2, 'RabbitMQ', 'class="v"'),
  );
  y += 35;
  const bars = throughputPanel(throughput, y);
  parts.push(bars.svg);
  y += bars.height + 30;
  if (latency !== null && (latency.warren !== null || latency.rabbitmq !== null)) {
    const curve = latencyPanel(latency, y);
    parts.push(curve.svg);
    y += curve.height;
  }
  return svgDocument(y + 20, parts);
}

const PANEL_HEIGHT = 120;

/**
 * `samples`: [{t (seconds), ...measures}]; `series`: [{key, label, scale}]: one panel per
 * measure, its values times `scale` against time, with the axis from 0 to the largest value.
 */
export function renderTimeSeries({ title, samples, series }) {
  const parts = [text(20, 30, title, 'class="h"')];
  const left = 90;
  const right = WIDTH - 30;
  const lastT = Math.max(1, ...samples.map((sample) => sample.t));
  let top = 55;
  for (const { key, label, scale } of series) {
    const values = samples.map((sample) => sample[key] * scale);
    const highest = Math.max(1e-9, ...values);
    const plotTop = top + 18;
    const plotBottom = top + PANEL_HEIGHT - 22;
    const yOf = (value) => plotBottom - (value / highest) * (plotBottom - plotTop);
    const xOf = (t) => left + (t / lastT) * (right - left);
    parts.push(
      text(left, top + 10, label, 'class="l"'),
      `<line x1="${left}" y1="${plotBottom}" x2="${right}" y2="${plotBottom}" stroke="#999"/>`,
      `<line x1="${left}" y1="${plotTop}" x2="${left}" y2="${plotBottom}" stroke="#999"/>`,
      text(left - 6, plotTop + 4, formatAxis(highest), 'class="a"'),
      text(left - 6, plotBottom + 4, '0', 'class="a"'),
      text(right, plotBottom + 16, `${lastT} s`, 'class="a"'),
      `<polyline fill="none" stroke="${COLORS.warren}" stroke-width="1.5" points="${samples
        .map((sample, index) => `${xOf(sample.t).toFixed(1)},${yOf(values[index]).toFixed(1)}`)
        .join(' ')}"/>`,
    );
    top += PANEL_HEIGHT;
  }
  return svgDocument(top + 10, parts);
}

function formatAxis(value) {
  if (value >= 100) return Math.round(value).toLocaleString('en');
  return value.toPrecision(3);
}
