// `warren ctl`: operates a running broker through its management HTTP API (like rabbitmqctl
// and rabbitmqadmin): lists as tables for people or JSON for scripts (--json), and changes to
// queues, vhosts, users, permissions, connections and definitions. Returns the exit code:
// 0 done, 1 the broker refused or could not be reached, 2 bad usage.

import { readFileSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { CtlError, ManagementClient } from './management-client.js';
import { type Column, formatTable } from './table.js';

export const CTL_HELP = `Usage: warren ctl [options] <command>

Commands:
  overview
  list queues|exchanges|bindings|connections|channels|consumers|vhosts|users|permissions
  declare queue <name> [--durable]          declare exchange <name> <type> [--durable]
  purge queue <name>                        delete queue|exchange <name>
  add vhost <name>                          delete vhost <name>
  add user <name> <password> [tag,tag...]   delete user <name>
  set permissions <vhost> <user> <configure> <write> <read>
  clear permissions <vhost> <user>
  close connection <name> [reason]
  export definitions [--file <out.json>]    import definitions <file.json>
  log-level                                 set-log-level debug|info|warn|error|silent

Options:
  --url <url>            management API (WARREN_MGMT_URL, default http://127.0.0.1:15672)
  --user <name>          (WARREN_USER, default guest)
  --password <password>  (WARREN_PASSWORD, default guest)
  --vhost <vhost>        for list, declare, purge and delete (default: every vhost for lists, '/' otherwise)
  --json                 print the API's JSON instead of a table`;

class UsageError extends Error {}

const enc = encodeURIComponent;

type Row = Record<string, unknown>;

const at =
  (...path: string[]) =>
  (row: Row): unknown => {
    let value: unknown = row;
    for (const key of path) value = (value as Row | undefined)?.[key];
    return value;
  };

const LISTS: Record<string, { path: string; isVhostScoped: boolean; columns: Column[] }> = {
  queues: {
    path: '/queues',
    isVhostScoped: true,
    columns: [
      { title: 'vhost', value: at('vhost') },
      { title: 'name', value: at('name') },
      { title: 'durable', value: at('durable') },
      { title: 'ready', value: at('messages_ready') },
      { title: 'unacked', value: at('messages_unacknowledged') },
      { title: 'messages', value: at('messages') },
      { title: 'consumers', value: at('consumers') },
      { title: 'publish/s', value: at('message_stats', 'publish_details', 'rate') },
    ],
  },
  exchanges: {
    path: '/exchanges',
    isVhostScoped: true,
    columns: [
      { title: 'vhost', value: at('vhost') },
      { title: 'name', value: at('name') },
      { title: 'type', value: at('type') },
      { title: 'durable', value: at('durable') },
      { title: 'auto_delete', value: at('auto_delete') },
      { title: 'internal', value: at('internal') },
    ],
  },
  bindings: {
    path: '/bindings',
    isVhostScoped: true,
    columns: [
      { title: 'vhost', value: at('vhost') },
      { title: 'source', value: at('source') },
      { title: 'destination', value: at('destination') },
      { title: 'type', value: at('destination_type') },
      { title: 'routing_key', value: at('routing_key') },
      { title: 'arguments', value: at('arguments') },
    ],
  },
  connections: {
    path: '/connections',
    isVhostScoped: false,
    columns: [
      { title: 'name', value: at('name') },
      { title: 'vhost', value: at('vhost') },
      { title: 'user', value: at('user') },
      { title: 'channels', value: at('channels') },
      { title: 'client', value: at('client_properties', 'product') },
    ],
  },
  channels: {
    path: '/channels',
    isVhostScoped: false,
    columns: [
      { title: 'name', value: at('name') },
      { title: 'vhost', value: at('vhost') },
      { title: 'user', value: at('user') },
      { title: 'consumers', value: at('consumer_count') },
      { title: 'unacked', value: at('messages_unacknowledged') },
      { title: 'prefetch', value: at('prefetch_count') },
    ],
  },
  consumers: {
    path: '/consumers',
    isVhostScoped: true,
    columns: [
      { title: 'vhost', value: at('queue', 'vhost') },
      { title: 'queue', value: at('queue', 'name') },
      { title: 'tag', value: at('consumer_tag') },
      { title: 'channel', value: at('channel_details', 'name') },
      { title: 'ack_required', value: at('ack_required') },
      { title: 'prefetch', value: at('prefetch_count') },
    ],
  },
  vhosts: {
    path: '/vhosts',
    isVhostScoped: false,
    columns: [
      { title: 'name', value: at('name') },
      { title: 'messages', value: at('messages') },
    ],
  },
  users: {
    path: '/users',
    isVhostScoped: false,
    columns: [
      { title: 'name', value: at('name') },
      { title: 'tags', value: (row) => (row['tags'] as string[]).join(',') },
    ],
  },
  permissions: {
    path: '/permissions',
    isVhostScoped: false,
    columns: [
      { title: 'vhost', value: at('vhost') },
      { title: 'user', value: at('user') },
      { title: 'configure', value: at('configure') },
      { title: 'write', value: at('write') },
      { title: 'read', value: at('read') },
    ],
  },
};

function need(args: string[], count: number, usage: string): string[] {
  if (args.length < count) throw new UsageError(`usage: warren ctl ${usage}`);
  return args;
}

/** Runs one ctl command; `write` receives stdout text. Returns the exit code. */
export async function runCtl(
  argv: string[],
  env: NodeJS.ProcessEnv,
  write: (text: string) => void,
  writeError: (text: string) => void,
): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: {
        url: { type: 'string' },
        user: { type: 'string' },
        password: { type: 'string' },
        vhost: { type: 'string' },
        file: { type: 'string' },
        json: { type: 'boolean' },
        durable: { type: 'boolean' },
        help: { type: 'boolean' },
      },
    });
  } catch (error) {
    writeError(`warren ctl: ${(error as Error).message}\n\n${CTL_HELP}\n`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.help === true || positionals.length === 0) {
    write(`${CTL_HELP}\n`);
    return positionals.length === 0 && values.help !== true ? 2 : 0;
  }
  const client = new ManagementClient({
    url: values.url ?? env['WARREN_MGMT_URL'] ?? 'http://127.0.0.1:15672',
    user: values.user ?? env['WARREN_USER'] ?? 'guest',
    password: values.password ?? env['WARREN_PASSWORD'] ?? 'guest',
  });
  const isJson = values.json === true;
  const print = (value: unknown, columns: Column[] | null) => {
    if (isJson || columns === null) write(`${JSON.stringify(value, null, 2)}\n`);
    else write(`${formatTable(columns, value as Row[])}\n`);
  };
  const done = (text: string) => {
    if (isJson) write(`${JSON.stringify({ ok: true, message: text })}\n`);
    else write(`${text}\n`);
  };
  const vhost = values.vhost ?? '/';
  const [verb, noun, ...rest] = positionals;
  try {
    if (verb === 'overview') {
      const overview = (await client.request('GET', '/overview')) as Row;
      if (isJson) print(overview, null);
      else {
        const totals = overview['queue_totals'] as Row;
        const objects = overview['object_totals'] as Row;
        write(
          `${formatTable(
            [
              { title: 'metric', value: at('metric') },
              { title: 'value', value: at('value') },
            ],
            [
              {
                metric: 'product',
                value: `${String(overview['product_name'])} ${String(overview['product_version'])}`,
              },
              { metric: 'node', value: overview['node'] },
              { metric: 'messages', value: totals['messages'] },
              { metric: 'messages_ready', value: totals['messages_ready'] },
              { metric: 'messages_unacknowledged', value: totals['messages_unacknowledged'] },
              ...Object.entries(objects).map(([metric, value]) => ({ metric, value })),
            ],
          )}\n`,
        );
      }
      return 0;
    }
    if (verb === 'list') {
      const list = LISTS[noun ?? ''];
      if (list === undefined) {
        throw new UsageError(`usage: warren ctl list ${Object.keys(LISTS).join('|')}`);
      }
      const path =
        list.isVhostScoped && values.vhost !== undefined
          ? `${list.path}/${enc(values.vhost)}`
          : list.path;
      print(
        await client.request('GET', path, undefined, {}, `no vhost '${values.vhost ?? ''}'`),
        list.columns,
      );
      return 0;
    }
    if (verb === 'declare' && noun === 'queue') {
      const [name] = need(rest, 1, 'declare queue <name> [--durable]') as [string];
      await client.request(
        'PUT',
        `/queues/${enc(vhost)}/${enc(name)}`,
        { durable: values.durable === true, auto_delete: false, arguments: {} },
        {},
        `no vhost '${vhost}'`,
      );
      done(`queue '${name}' declared in vhost '${vhost}'`);
      return 0;
    }
    if (verb === 'declare' && noun === 'exchange') {
      const [name, type] = need(rest, 2, 'declare exchange <name> <type> [--durable]') as [
        string,
        string,
      ];
      await client.request(
        'PUT',
        `/exchanges/${enc(vhost)}/${enc(name)}`,
        {
          type,
          durable: values.durable === true,
          auto_delete: false,
          internal: false,
          arguments: {},
        },
        {},
        `no vhost '${vhost}'`,
      );
      done(`exchange '${name}' declared in vhost '${vhost}'`);
      return 0;
    }
    if (verb === 'purge' && noun === 'queue') {
      const [name] = need(rest, 1, 'purge queue <name>') as [string];
      await client.request(
        'DELETE',
        `/queues/${enc(vhost)}/${enc(name)}/contents`,
        undefined,
        {},
        `no queue '${name}' in vhost '${vhost}'`,
      );
      done(`queue '${name}' in vhost '${vhost}' purged`);
      return 0;
    }
    if (verb === 'delete' && (noun === 'queue' || noun === 'exchange')) {
      const [name] = need(rest, 1, `delete ${noun} <name>`) as [string];
      await client.request(
        'DELETE',
        `/${noun}s/${enc(vhost)}/${enc(name)}`,
        undefined,
        {},
        `no ${noun} '${name}' in vhost '${vhost}'`,
      );
      done(`${noun} '${name}' in vhost '${vhost}' deleted`);
      return 0;
    }
    if ((verb === 'add' || verb === 'delete') && noun === 'vhost') {
      const [name] = need(rest, 1, `${verb} vhost <name>`) as [string];
      await client.request(
        verb === 'add' ? 'PUT' : 'DELETE',
        `/vhosts/${enc(name)}`,
        undefined,
        {},
        `no vhost '${name}'`,
      );
      done(`vhost '${name}' ${verb === 'add' ? 'added' : 'deleted'}`);
      return 0;
    }
    if (verb === 'add' && noun === 'user') {
      const [name, password, tags] = need(rest, 2, 'add user <name> <password> [tag,tag...]') as [
        string,
        string,
        string | undefined,
      ];
      await client.request('PUT', `/users/${enc(name)}`, { password, tags: tags ?? '' });
      done(`user '${name}' saved`);
      return 0;
    }
    if (verb === 'delete' && noun === 'user') {
      const [name] = need(rest, 1, 'delete user <name>') as [string];
      await client.request('DELETE', `/users/${enc(name)}`, undefined, {}, `no user '${name}'`);
      done(`user '${name}' deleted`);
      return 0;
    }
    if (verb === 'set' && noun === 'permissions') {
      const [permissionVhost, user, configure, writePattern, read] = need(
        rest,
        5,
        'set permissions <vhost> <user> <configure> <write> <read>',
      ) as [string, string, string, string, string];
      await client.request(
        'PUT',
        `/permissions/${enc(permissionVhost)}/${enc(user)}`,
        { configure, write: writePattern, read },
        {},
        `no vhost '${permissionVhost}' or no user '${user}'`,
      );
      done(`permissions of '${user}' in vhost '${permissionVhost}' set`);
      return 0;
    }
    if (verb === 'clear' && noun === 'permissions') {
      const [permissionVhost, user] = need(rest, 2, 'clear permissions <vhost> <user>') as [
        string,
        string,
      ];
      await client.request(
        'DELETE',
        `/permissions/${enc(permissionVhost)}/${enc(user)}`,
        undefined,
        {},
        `no permissions for user '${user}' in vhost '${permissionVhost}'`,
      );
      done(`permissions of '${user}' in vhost '${permissionVhost}' cleared`);
      return 0;
    }
    if (verb === 'close' && noun === 'connection') {
      const [name, reason] = need(rest, 1, 'close connection <name> [reason]') as [
        string,
        string | undefined,
      ];
      await closeConnection(client, name, reason);
      done(`connection '${name}' closed`);
      return 0;
    }
    if (verb === 'log-level' && noun === undefined) {
      const reply = (await client.request('GET', '/warren/log-level')) as Row;
      if (isJson) print(reply, null);
      else write(`${String(reply['level'])}\n`);
      return 0;
    }
    if (verb === 'set-log-level') {
      if (noun === undefined || rest.length > 0)
        throw new UsageError('usage: warren ctl set-log-level debug|info|warn|error|silent');
      await client.request('PUT', '/warren/log-level', { level: noun });
      done(`log level set to ${noun}`);
      return 0;
    }
    if (verb === 'export' && noun === 'definitions') {
      const definitions = await client.request('GET', '/definitions');
      const text = `${JSON.stringify(definitions, null, 2)}\n`;
      if (values.file === undefined) write(text);
      else {
        writeFileSync(values.file, text);
        done(`definitions written to ${values.file}`);
      }
      return 0;
    }
    if (verb === 'import' && noun === 'definitions') {
      const [file] = need(rest, 1, 'import definitions <file.json>') as [string];
      let definitions: unknown;
      try {
        definitions = JSON.parse(readFileSync(file, 'utf8'));
      } catch (error) {
        throw new UsageError(`${file}: ${(error as Error).message}`);
      }
      await client.request('POST', '/definitions', definitions);
      done(`definitions from ${file} imported`);
      return 0;
    }
    throw new UsageError(`unknown command '${positionals.join(' ')}'\n\n${CTL_HELP}`);
  } catch (error) {
    if (error instanceof UsageError) {
      writeError(`warren ctl: ${error.message}\n`);
      return 2;
    }
    if (error instanceof CtlError) {
      writeError(`warren ctl: ${error.message}\n`);
      return 1;
    }
    throw error;
  }
}

/** The reason travels in the X-Reason header, as RabbitMQ's API takes it. */
async function closeConnection(
  client: ManagementClient,
  name: string,
  reason: string | undefined,
): Promise<void> {
  await client.request(
    'DELETE',
    `/connections/${enc(name)}`,
    undefined,
    { 'X-Reason': reason ?? 'Closed via warren ctl' },
    `no connection '${name}'`,
  );
}
