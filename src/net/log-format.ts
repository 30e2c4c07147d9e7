// Turns one pino JSON line into a line for people: time, level, message, then the context as
// key=value pairs, and an error's stack indented below. Written here instead of depending on
// pino-pretty, which brings a dozen packages for what these forty lines do. Network thread.

const FIXED_KEYS = new Set(['time', 'level', 'msg', 'err']);

export function formatHumanLine(json: string): string {
  let entry: Record<string, unknown>;
  try {
    entry = JSON.parse(json) as Record<string, unknown>;
  } catch {
    // Not ours to judge: pass through whatever pino wrote.
    return json.endsWith('\n') ? json : `${json}\n`;
  }
  const level = String(entry['level'] ?? '');
  let text = `${String(entry['time'] ?? '')} ${level.padEnd(5)} ${String(entry['msg'] ?? '')}`;
  for (const key of Object.keys(entry)) {
    if (FIXED_KEYS.has(key)) continue;
    text += ` ${key}=${formatValue(entry[key])}`;
  }
  const error = entry['err'] as { message?: unknown; stack?: unknown } | undefined;
  if (error !== undefined && error !== null) {
    const detail = typeof error.stack === 'string' ? error.stack : String(error.message);
    text += `\n    ${detail.split('\n').join('\n    ')}`;
  }
  return `${text}\n`;
}

/** Bare when unambiguous, else JSON (quoted strings, objects). */
function formatValue(value: unknown): string {
  if (typeof value === 'string') return /^[^\s"=]+$/.test(value) ? value : JSON.stringify(value);
  if (typeof value === 'number' || typeof value === 'boolean' || value === null)
    return String(value);
  return JSON.stringify(value);
}
