#!/usr/bin/env node
// The `warren` command. Without a subcommand it runs the broker (as `npm start` does); the
// users, vhosts and permissions subcommands edit the definitions file the broker loads at start
// (--definitions / WARREN_DEFINITIONS, default <data dir>/definitions.json); `warren ctl`
// operates a running broker through its management HTTP API.

import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { readFileSync, writeFileSync } from 'node:fs';
import {
  clearPermission,
  exportDefinitions,
  importDefinitions,
  deleteUser,
  deleteVhost,
  putUser,
  putVhost,
  readDefinitionsFile,
  setPermission,
  writeDefinitionsFile,
} from './definitions-file.js';
import { runCtl } from './ctl/index.js';
import { defaultOptions } from './net/index.js';
import type { Definitions } from './net/index.js';

const COMMANDS = ['users', 'vhosts', 'permissions', 'definitions'];

const HELP = `Usage:
  warren [broker options]                 run the broker (see warren --help)
  warren ctl <command>                    operate a running broker over its management API
                                          (see warren ctl --help)
  warren users list
  warren users add <name> <password> [tag,tag...]
  warren users delete <name>
  warren vhosts list | add <name> | delete <name>
  warren permissions list
  warren permissions set <vhost> <user> <configure> <write> <read>
  warren permissions clear <vhost> <user>
  warren definitions export [--file <out.json>]   the broker's durable definitions, as RabbitMQ's JSON
  warren definitions import <file.json>           merged into the definitions file, applied at start
Options for these commands: --definitions <file> (or WARREN_DEFINITIONS); the default is
<data dir>/definitions.json, with the data dir from --data-dir or WARREN_DATA_DIR (./data).
A new file starts with RabbitMQ's defaults: user guest/guest (administrator) and vhost '/'.
Restart the broker to apply changes.`;

function takeOption(args: string[], name: string): string | undefined {
  const at = args.indexOf(`--${name}`);
  if (at < 0) return undefined;
  const value = args[at + 1];
  if (value === undefined) throw new Error(`--${name} needs a value`);
  args.splice(at, 2);
  return value;
}

function definitionsPath(args: string[]): string {
  const explicit = takeOption(args, 'definitions') ?? process.env['WARREN_DEFINITIONS'];
  const dataDir =
    takeOption(args, 'data-dir') ?? process.env['WARREN_DATA_DIR'] ?? defaultOptions().dataDir;
  return explicit ?? join(dataDir, 'definitions.json');
}

function seeded(path: string): Definitions {
  if (existsSync(path)) return readDefinitionsFile(path);
  const definitions: Definitions = {};
  putVhost(definitions, '/');
  putUser(definitions, 'guest', 'guest', ['administrator']);
  setPermission(definitions, '/', 'guest', '.*', '.*', '.*');
  return definitions;
}

function need(args: string[], count: number, usage: string): string[] {
  if (args.length !== count) throw new Error(`usage: warren ${usage}`);
  return args;
}

async function run(argv: string[]): Promise<void> {
  const args = [...argv];
  if (args[0] === 'definitions' && args[1] === 'export') {
    // Read from the data directory's log (before definitionsPath() consumes --data-dir).
    const out = takeOption(args, 'file');
    const dataDir =
      takeOption(args, 'data-dir') ?? process.env['WARREN_DATA_DIR'] ?? defaultOptions().dataDir;
    const text = `${JSON.stringify(await exportDefinitions(dataDir), null, 2)}\n`;
    if (out === undefined) process.stdout.write(text);
    else {
      writeFileSync(out, text);
      process.stdout.write(`definitions written to ${out}\n`);
    }
    return;
  }
  const path = definitionsPath(args);
  const [command, action, ...rest] = args;
  const definitions = seeded(path);
  const save = () => writeDefinitionsFile(path, definitions);
  if (command === 'users') {
    if (action === 'list') {
      for (const user of definitions.users ?? []) {
        const tags = Array.isArray(user.tags) ? user.tags.join(',') : (user.tags ?? '');
        process.stdout.write(`${user.name}\t[${tags}]\n`);
      }
      return;
    }
    if (action === 'add') {
      if (rest.length < 2 || rest.length > 3)
        throw new Error('usage: warren users add <name> <password> [tags]');
      const [name, password, tags] = rest as [string, string, string | undefined];
      putUser(
        definitions,
        name,
        password,
        tags === undefined ? [] : tags.split(',').filter((tag) => tag !== ''),
      );
      save();
      process.stdout.write(`user '${name}' saved in ${path}\n`);
      return;
    }
    if (action === 'delete') {
      const [name] = need(rest, 1, 'users delete <name>') as [string];
      if (!deleteUser(definitions, name)) throw new Error(`no user '${name}' in ${path}`);
      save();
      process.stdout.write(`user '${name}' deleted from ${path}\n`);
      return;
    }
  }
  if (command === 'vhosts') {
    if (action === 'list') {
      for (const vhost of definitions.vhosts ?? []) process.stdout.write(`${vhost.name}\n`);
      return;
    }
    if (action === 'add' || action === 'delete') {
      const [name] = need(rest, 1, `vhosts ${action} <name>`) as [string];
      if (action === 'add') putVhost(definitions, name);
      else if (!deleteVhost(definitions, name)) throw new Error(`no vhost '${name}' in ${path}`);
      save();
      process.stdout.write(
        `vhost '${name}' ${action === 'add' ? 'saved in' : 'deleted from'} ${path}\n`,
      );
      return;
    }
  }
  if (command === 'permissions') {
    if (action === 'list') {
      for (const permission of definitions.permissions ?? []) {
        process.stdout.write(
          `${permission.vhost}\t${permission.user}\t${permission.configure}\t${permission.write}\t${permission.read}\n`,
        );
      }
      return;
    }
    if (action === 'set') {
      const [vhost, user, configure, write, read] = need(
        rest,
        5,
        'permissions set <vhost> <user> <configure> <write> <read>',
      ) as [string, string, string, string, string];
      if (!(definitions.vhosts ?? []).some((entry) => entry.name === vhost))
        throw new Error(`no vhost '${vhost}' in ${path}`);
      if (!(definitions.users ?? []).some((entry) => entry.name === user))
        throw new Error(`no user '${user}' in ${path}`);
      for (const pattern of [configure, write, read]) new RegExp(pattern);
      setPermission(definitions, vhost, user, configure, write, read);
      save();
      process.stdout.write(`permissions of '${user}' in vhost '${vhost}' saved in ${path}\n`);
      return;
    }
    if (action === 'clear') {
      const [vhost, user] = need(rest, 2, 'permissions clear <vhost> <user>') as [string, string];
      if (!clearPermission(definitions, vhost, user))
        throw new Error(`no permissions for '${user}' in vhost '${vhost}'`);
      save();
      process.stdout.write(`permissions of '${user}' in vhost '${vhost}' cleared in ${path}\n`);
      return;
    }
  }
  if (command === 'definitions' && action === 'import') {
    const [file] = need(rest, 1, 'definitions import <file.json>') as [string];
    const incoming = JSON.parse(readFileSync(file, 'utf8')) as Definitions;
    writeDefinitionsFile(path, importDefinitions(definitions, incoming));
    process.stdout.write(
      `definitions from ${file} merged into ${path}; the broker applies them when it starts\n`,
    );
    return;
  }
  throw new Error(HELP);
}

const first = process.argv[2];
if (first === 'ctl') {
  process.exitCode = await runCtl(
    process.argv.slice(3),
    process.env,
    (text) => process.stdout.write(text),
    (text) => process.stderr.write(text),
  );
} else if (first !== undefined && COMMANDS.includes(first)) {
  try {
    await run(process.argv.slice(2));
  } catch (error) {
    process.stderr.write(`warren: ${(error as Error).message}\n`);
    process.exit(2);
  }
} else if (first === 'help') {
  process.stdout.write(`${HELP}\n`);
} else {
  await import('./main.js');
}
