// Unit tests for the one-line start-up messages: listener failures in the shape the network
// layer reports them (code, setting, port, address), named as the user gave the setting.

import { describe, expect, it } from 'vitest';
import { parseCommandLine } from './config.js';
import { explainStartupError, type ListenFailure } from './startup-error.js';

function listenFailure(
  code: string,
  setting: ListenFailure['setting'],
  port: number,
  address = '0.0.0.0',
): ListenFailure {
  return Object.assign(new Error(`listen ${code} ${address}:${port}`), {
    code,
    setting,
    port,
    address,
  });
}

describe('explainStartupError', () => {
  it('names the port setting as given, exit 1', () => {
    const parsed = parseCommandLine(['--tls-port', '5671'], { WARREN_MGMT_PORT: '15672' });
    expect(explainStartupError(listenFailure('EADDRINUSE', 'port', 5672), parsed)).toEqual({
      line: 'warren: --port 5672: address 0.0.0.0:5672 is already in use',
      exitCode: 1,
    });
    expect(explainStartupError(listenFailure('EADDRINUSE', 'tlsPort', 5671), parsed).line).toBe(
      'warren: --tls-port 5671: address 0.0.0.0:5671 is already in use',
    );
    expect(explainStartupError(listenFailure('EADDRINUSE', 'mgmtPort', 15672), parsed).line).toBe(
      'warren: WARREN_MGMT_PORT=15672: address 0.0.0.0:15672 is already in use',
    );
  });

  it('explains EACCES and EADDRNOTAVAIL', () => {
    const parsed = parseCommandLine(['--bind', '10.9.9.9'], {});
    expect(explainStartupError(listenFailure('EACCES', 'port', 80), parsed).line).toBe(
      'warren: --port 80: no permission to listen on 0.0.0.0:80 (ports below 1024 need privileges)',
    );
    expect(
      explainStartupError(listenFailure('EADDRNOTAVAIL', 'port', 5672, '10.9.9.9'), parsed).line,
    ).toBe('warren: --bind 10.9.9.9: not an address of this machine (listening for --port)');
  });

  it('puts an IPv6 address in brackets', () => {
    expect(explainStartupError(listenFailure('EADDRINUSE', 'port', 5672, '::1'), null).line).toBe(
      'warren: --port 5672: address [::1]:5672 is already in use',
    );
  });

  it('gives a settings error exit 2 and anything else exit 1 with its message', () => {
    let error: unknown;
    try {
      parseCommandLine(['--shards', '0'], {});
    } catch (thrown) {
      error = thrown;
    }
    expect(explainStartupError(error, null)).toEqual({
      line: 'warren: --shards: expected an integer from 1 to 30, got 0',
      exitCode: 2,
    });
    expect(explainStartupError(new Error('boom'), null)).toEqual({
      line: 'warren: boom',
      exitCode: 1,
    });
  });
});
