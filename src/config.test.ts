// Unit tests for settings parsing: flags beat WARREN_* environment variables, which beat the JSON
// config file, which beats the defaults; bad values are refused with a message that names where
// they came from, as the user wrote it; ranges and settings that go together are checked at
// parse time too (resolveOptions with the user's names). No network.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseCommandLine, settingWithValue, usage } from './config.js';
import { resolveOptions, SETTINGS } from './net/index.js';

/** The settings the command line takes (startBroker() takes a few more). */
const FLAGGED = SETTINGS.filter((setting) => setting.flag !== null && setting.env !== null);

const directory = mkdtempSync(join(tmpdir(), 'warren-config-test-'));
let fileCount = 0;

function configFile(contents: unknown): string {
  const path = join(directory, `config-${++fileCount}.json`);
  writeFileSync(path, typeof contents === 'string' ? contents : JSON.stringify(contents));
  return path;
}

afterAll(() => {
  rmSync(directory, { recursive: true, force: true });
});

describe('parseCommandLine sources', () => {
  it('gives nothing without flags, environment or file', () => {
    expect(parseCommandLine([], {})).toEqual({ options: {}, isHelp: false, sources: {} });
  });

  it('reads --help', () => {
    expect(parseCommandLine(['--help'], {}).isHelp).toBe(true);
  });

  it('reads every setting from its flag', () => {
    const { options } = parseCommandLine(
      [
        '--port',
        '5673',
        '--bind',
        '127.0.0.1',
        '--shards',
        '3',
        '--data-dir',
        '/tmp/w',
        '--mgmt-port',
        '15673',
        '--heartbeat',
        '30',
        '--frame-max',
        '65536',
        '--channel-max',
        '100',
        '--max-message-size',
        '1048576',
        '--ring-bytes',
        '65536',
        '--definitions',
        '/tmp/d.json',
        '--log-level',
        'warn',
      ],
      {},
    );
    expect(options).toEqual({
      port: 5673,
      bind: '127.0.0.1',
      shardCount: 3,
      dataDir: '/tmp/w',
      mgmtPort: 15673,
      heartbeatSeconds: 30,
      frameMaxBytes: 65536,
      channelMax: 100,
      messageMaxBytes: 1048576,
      ringBytes: 65536,
      definitionsFile: '/tmp/d.json',
      logLevel: 'warn',
    });
  });

  it('accepts --flag=value', () => {
    expect(parseCommandLine(['--port=1234'], {}).options.port).toBe(1234);
  });

  it('reads every setting from its environment variable', () => {
    const env: Record<string, string> = {};
    const sample = (setting: (typeof FLAGGED)[number]): [string, unknown] => {
      const integer = Math.max(setting.min, Math.min(42, setting.max));
      if (setting.kind === 'integer') return [String(integer), integer];
      if (setting.kind === 'choice') return [setting.choices[1]!, setting.choices[1]];
      if (setting.kind === 'switch') return ['off', false];
      if (setting.kind === 'decimal') return ['0.25', 0.25];
      return ['text', 'text'];
    };
    for (const setting of FLAGGED) env[setting.env!] = sample(setting)[0];
    const { options, sources } = parseCommandLine([], env);
    for (const setting of FLAGGED) {
      expect(options[setting.key], setting.env!).toBe(sample(setting)[1]);
      expect(sources[setting.key]).toBe(setting.env);
    }
  });

  it('reads a config file named by --config or WARREN_CONFIG, keyed by flag or option name', () => {
    const path = configFile({
      port: 1111,
      'frame-max': 8192,
      heartbeatSeconds: 5,
      'log-level': 'debug',
    });
    const expected = { port: 1111, frameMaxBytes: 8192, heartbeatSeconds: 5, logLevel: 'debug' };
    expect(parseCommandLine(['--config', path], {}).options).toEqual(expected);
    expect(parseCommandLine([], { WARREN_CONFIG: path }).options).toEqual(expected);
  });

  it('reads the log format from a flag, the environment or a config file', () => {
    expect(parseCommandLine(['--log-format', 'json'], {}).options.logFormat).toBe('json');
    expect(parseCommandLine([], { WARREN_LOG_FORMAT: 'json' }).options.logFormat).toBe('json');
    const path = configFile({ 'log-format': 'json' });
    expect(parseCommandLine(['--config', path], {}).options.logFormat).toBe('json');
  });

  it('ignores empty environment variables', () => {
    expect(parseCommandLine([], { WARREN_PORT: '', WARREN_LOG_LEVEL: '' }).options).toEqual({});
  });

  it('turns management off with --no-mgmt, --mgmt off or WARREN_MGMT=off', () => {
    expect(parseCommandLine(['--no-mgmt'], {}).options.isMgmtEnabled).toBe(false);
    expect(parseCommandLine(['--mgmt', 'off'], {}).options.isMgmtEnabled).toBe(false);
    expect(parseCommandLine([], { WARREN_MGMT: 'off' }).options.isMgmtEnabled).toBe(false);
    expect(parseCommandLine([], { WARREN_MGMT: 'on' }).options.isMgmtEnabled).toBe(true);
    expect(() => parseCommandLine(['--mgmt', 'maybe'], {})).toThrow(/--mgmt: expected on or off/);
  });

  it('trims integers from the environment', () => {
    expect(parseCommandLine([], { WARREN_PORT: ' 5674 ' }).options.port).toBe(5674);
  });
});

describe('parseCommandLine precedence: flag, then environment, then config file', () => {
  const path = configFile({ port: 1, shards: 1, heartbeat: 1, bind: 'file' });

  it('flag beats environment beats file, setting by setting', () => {
    const { options } = parseCommandLine(['--config', path, '--port', '3'], {
      WARREN_PORT: '2',
      WARREN_SHARDS: '2',
    });
    expect(options).toEqual({ port: 3, shardCount: 2, heartbeatSeconds: 1, bind: 'file' });
  });

  it('environment beats file', () => {
    expect(
      parseCommandLine([], { WARREN_CONFIG: path, WARREN_HEARTBEAT: '9' }).options.heartbeatSeconds,
    ).toBe(9);
  });

  it('--config beats WARREN_CONFIG', () => {
    const other = configFile({ port: 77 });
    expect(parseCommandLine(['--config', other], { WARREN_CONFIG: path }).options).toEqual({
      port: 77,
    });
  });

  it('a bad value in a lower source is refused even when a higher one overrides it', () => {
    // Every source is read in full, so a broken environment never hides behind a flag.
    expect(() => parseCommandLine(['--port', '5'], { WARREN_PORT: 'x' })).toThrow(/WARREN_PORT/);
  });
});

describe('parseCommandLine refuses bad values with a clear message', () => {
  it.each([
    [['--port', 'abc'], {}, "--port: expected an integer, got 'abc'"],
    [['--shards', '2.5'], {}, "--shards: expected an integer, got '2.5'"],
    [[], { WARREN_HEARTBEAT: 'soon' }, "WARREN_HEARTBEAT: expected an integer, got 'soon'"],
    [
      ['--log-level', 'loud'],
      {},
      "--log-level: expected debug, info, warn, error or silent, got 'loud'",
    ],
    [
      [],
      { WARREN_LOG_LEVEL: 'INFO' },
      "WARREN_LOG_LEVEL: expected debug, info, warn, error or silent, got 'INFO'",
    ],
    [['--fsync', 'sometimes'], {}, "--fsync: expected batch, interval or off, got 'sometimes'"],
    [['--log-format', 'pretty'], {}, "--log-format: expected human or json, got 'pretty'"],
  ] as const)('%j %j', (argv, env, message) => {
    expect(() => parseCommandLine([...argv], env)).toThrow(message);
  });

  it('names the file and the key of a bad config value', () => {
    const path = configFile({ 'channel-max': 'many' });
    expect(() => parseCommandLine(['--config', path], {})).toThrow(
      `${path}: channel-max: expected an integer, got 'many'`,
    );
  });

  it('names the file of an unknown config key', () => {
    const path = configFile({ prot: 5672 });
    expect(() => parseCommandLine(['--config', path], {})).toThrow(
      `${path}: unknown setting 'prot'`,
    );
  });

  it('names a missing config file', () => {
    const path = join(directory, 'missing.json');
    expect(() => parseCommandLine(['--config', path], {})).toThrow(path);
  });

  it('refuses unknown flags and positional arguments in one short sentence', () => {
    expect(() => parseCommandLine(['--prot', '1'], {})).toThrow(
      'unknown option --prot (warren --help lists the options)',
    );
    expect(() => parseCommandLine(['serve'], {})).toThrow("unexpected argument 'serve'");
    expect(() => parseCommandLine(['--port'], {})).toThrow('--port needs a value');
  });

  // Regression test. The bug was: JSON.parse's SyntaxError escapes as it is ("Unexpected token ..."), without the file name,
  // so `warren: Unexpected token } in JSON at position 11` leaves the user guessing which file.
  it('names the config file when it is not valid JSON', () => {
    const path = configFile('{ "port": 1, }');
    expect(() => parseCommandLine(['--config', path], {})).toThrow(path);
  });

  // Regression test. The bug was: convert() uses Number(text), which reads '' and whitespace as 0 and also takes hex and
  // exponent forms, so `--port ''` quietly picks a random port and '1e3' becomes 1000.
  it.each([[''], [' '], ['0x10'], ['1e3']])('refuses the integer text %j', (text) => {
    expect(() => parseCommandLine(['--heartbeat', text], {})).toThrow(
      /--heartbeat: expected an integer/,
    );
  });

  // Regression test. The bug was: same cause; String([]) is '' and Number('') is 0, so {"port": []} means port 0.
  it('refuses a config value that is not a number or numeric text', () => {
    expect(() => parseCommandLine(['--config', configFile({ port: [] })], {})).toThrow(/port/);
  });

  it('refuses config values of the wrong JSON type', () => {
    expect(() => parseCommandLine(['--config', configFile({ port: true })], {})).toThrow(
      /port: expected an integer/,
    );
    expect(() => parseCommandLine(['--config', configFile({ port: 1.5 })], {})).toThrow(
      /port: expected an integer/,
    );
  });
});

describe('range checks name the setting as the user gave it', () => {
  it.each([
    [['--port', '70000'], {}, '--port: expected an integer from 0 to 65535, got 70000'],
    [['--shards', '0'], {}, '--shards: expected an integer from 1 to 30, got 0'],
    [[], { WARREN_SHARDS: '31' }, 'WARREN_SHARDS: expected an integer from 1 to 30, got 31'],
    [
      ['--frame-max', '4095'],
      {},
      '--frame-max: expected an integer from 4096 to 1073741824, got 4095',
    ],
    [['--channel-max', '0'], {}, '--channel-max: expected an integer from 1 to 65535, got 0'],
    [['--ring-bytes', '100000'], {}, '--ring-bytes: expected a power of two, got 100000'],
    [['--tls-cert', 'c.pem'], {}, '--tls-cert: needs --tls-key too (give both or neither)'],
    [
      ['--tls-verify-peer', 'on'],
      {},
      '--tls-verify-peer: needs --tls-ca, the CA that signs client certificates',
    ],
  ] as const)('%j %j', (argv, env, message) => {
    expect(() => parseCommandLine([...argv], env)).toThrow(message);
  });

  it('names the config file and its key', () => {
    const path = configFile({ shards: 0 });
    expect(() => parseCommandLine(['--config', path], {})).toThrow(
      `${path}: shards: expected an integer from 1 to 30, got 0`,
    );
  });

  it('refuses a bad value in a lower source even when a flag overrides it', () => {
    expect(() => parseCommandLine(['--shards', '2'], { WARREN_SHARDS: '99' })).toThrow(
      'WARREN_SHARDS: expected an integer from 1 to 30, got 99',
    );
  });

  it('startBroker() callers see option keys', () => {
    expect(() => resolveOptions({ shardCount: 0 })).toThrow(
      'shardCount: expected an integer from 1 to 30, got 0',
    );
    expect(() => resolveOptions({ tlsKeyFile: 'k.pem' })).toThrow(
      'tlsKeyFile: needs tlsCertFile too (give both or neither)',
    );
    expect(() => resolveOptions({ prot: 1 } as never)).toThrow('prot: no such setting');
  });

  it('fills defaults for what was not given', () => {
    const options = resolveOptions(parseCommandLine(['--port', '0'], {}).options);
    expect(options).toMatchObject({
      port: 0,
      frameMaxBytes: 131072,
      channelMax: 2047,
      heartbeatSeconds: 60,
      dataDir: './data',
      logLevel: 'info',
      compactionMinBytes: 256 * 1024 * 1024,
    });
  });

  it('writes a setting with its value as the user gave it', () => {
    const path = configFile({ port: 1 });
    const parsed = parseCommandLine(['--config', path, '--data-dir', '/d'], { WARREN_BIND: 'h' });
    expect(settingWithValue(parsed, 'dataDir', '/d')).toBe('--data-dir /d');
    expect(settingWithValue(parsed, 'bind', 'h')).toBe('WARREN_BIND=h');
    expect(settingWithValue(parsed, 'port', 1)).toBe(`${path}: port 1`);
    expect(settingWithValue(parsed, 'mgmtPort', 15672)).toBe('--mgmt-port 15672');
  });
});

describe('usage', () => {
  it('lists every flag and environment variable', () => {
    const text = usage();
    for (const setting of FLAGGED) {
      expect(text).toContain(`--${setting.flag} `);
      expect(text).toContain(setting.env);
    }
    expect(text).toContain('WARREN_CONFIG');
  });

  it('aligns its columns', () => {
    const lines = usage().split('\n');
    const envColumns = new Set<number>();
    const helpColumns = new Set<number>();
    for (const setting of FLAGGED) {
      const line = lines.find((text) => text.startsWith(`  --${setting.flag} `))!;
      envColumns.add(line.indexOf(setting.env!));
      helpColumns.add(line.indexOf(setting.help));
    }
    expect([envColumns.size, helpColumns.size]).toEqual([1, 1]);
  });
});
