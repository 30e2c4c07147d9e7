// Generates src/codec/constants.ts and src/codec/methods.ts from the AMQP 0-9-1 spec XML with
// RabbitMQ's extensions (src/codec/spec/amqp0-9-1.rabbit.xml, a copy of the shared spec).
// Run with `npm run gen:methods`; pass another XML path as the first argument to try a different
// spec. The output is committed, so the build never needs this script. Invariant: generating twice
// from the same XML gives byte-identical files.

import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { XMLParser } from 'fast-xml-parser';

const repositoryRoot = join(dirname(fileURLToPath(import.meta.url)), '..');
const codecDirectory = join(repositoryRoot, 'src', 'codec');
const specPath = process.argv[2] ?? join(codecDirectory, 'spec', 'amqp0-9-1.rabbit.xml');
const specLabel = relative(repositoryRoot, specPath);

const GENERATED_NOTICE = '// generated, do not edit; run npm run gen:methods';

// RabbitMQ speaks these methods and this reply code, but the shared XML predates them. They come
// from RabbitMQ's own codegen input (deps/rabbitmq_codegen/amqp-rabbitmq-0.9.1.json). Each is added
// only when the XML lacks it, so a newer XML that has them wins.
const EXTENSION_METHODS = [
  {
    className: 'connection',
    name: 'blocked',
    index: 60,
    isSynchronous: false,
    sentBy: 'server',
    fields: [{ name: 'reason', domain: 'shortstr' }],
  },
  {
    className: 'connection',
    name: 'unblocked',
    index: 61,
    isSynchronous: false,
    sentBy: 'server',
    fields: [],
  },
  {
    className: 'connection',
    name: 'update-secret',
    index: 70,
    isSynchronous: true,
    sentBy: 'client',
    fields: [
      { name: 'new-secret', domain: 'longstr' },
      { name: 'reason', domain: 'shortstr' },
    ],
  },
  {
    className: 'connection',
    name: 'update-secret-ok',
    index: 71,
    isSynchronous: true,
    sentBy: 'server',
    fields: [],
  },
];
const EXTENSION_CONSTANTS = [{ name: 'no-route', value: 312, errorClass: 'soft-error' }];

const PRIMITIVE_KINDS = new Set([
  'bit',
  'octet',
  'short',
  'long',
  'longlong',
  'shortstr',
  'longstr',
  'timestamp',
  'table',
]);

// ---------------------------------------------------------------------------------------------
// Reading the spec

function readSpec(path) {
  const parser = new XMLParser({
    ignoreAttributes: false,
    attributeNamePrefix: '',
    parseAttributeValue: false,
    // Attributes such as field/@domain share names with elements, so only elements are arrays.
    isArray: (name, _path, _isLeaf, isAttribute) =>
      !isAttribute &&
      ['constant', 'domain', 'class', 'method', 'field', 'chassis', 'response', 'assert'].includes(
        name,
      ),
  });
  const root = parser.parse(readFileSync(path, 'utf8')).amqp;
  if (root === undefined) throw new Error(`${path}: no <amqp> root element`);

  const domains = new Map();
  for (const domain of root.domain ?? []) domains.set(domain.name, domain.type);
  const resolveKind = (field) => {
    let kind = field.domain ?? field.type;
    for (let hops = 0; !PRIMITIVE_KINDS.has(kind); hops++) {
      if (hops > 8 || !domains.has(kind))
        throw new Error(`field ${field.name}: unknown domain ${kind}`);
      kind = domains.get(kind);
    }
    return kind;
  };

  const constants = (root.constant ?? []).map((constant) => ({
    name: constant.name,
    value: Number(constant.value),
    errorClass: constant.class ?? '',
  }));
  for (const extension of EXTENSION_CONSTANTS) {
    if (!constants.some((constant) => constant.name === extension.name)) constants.push(extension);
  }

  const classes = (root.class ?? []).map((klass) => ({
    name: klass.name,
    index: Number(klass.index),
    properties: (klass.field ?? []).map((field) => ({
      name: field.name,
      kind: resolveKind(field),
    })),
    methods: (klass.method ?? []).map((method) => {
      const chassis = (method.chassis ?? []).map((entry) => entry.name);
      return {
        className: klass.name,
        name: method.name,
        index: Number(method.index),
        isSynchronous: method.synchronous === '1',
        hasContent: method.content === '1',
        sentBy:
          chassis.includes('server') && chassis.includes('client')
            ? 'either'
            : chassis.includes('server')
              ? 'client'
              : 'server',
        fields: (method.field ?? []).map((field) => ({
          name: field.name,
          domain: field.domain ?? field.type,
          kind: resolveKind(field),
          isReserved: field.reserved === '1',
        })),
      };
    }),
  }));

  for (const extension of EXTENSION_METHODS) {
    const klass = classes.find((candidate) => candidate.name === extension.className);
    if (klass === undefined) throw new Error(`extension class ${extension.className} missing`);
    if (klass.methods.some((method) => method.name === extension.name)) continue;
    klass.methods.push({
      className: extension.className,
      name: extension.name,
      index: extension.index,
      isSynchronous: extension.isSynchronous,
      hasContent: false,
      sentBy: extension.sentBy,
      isExtension: true,
      fields: extension.fields.map((field) => ({
        name: field.name,
        domain: field.domain,
        kind: resolveKind(field),
        isReserved: false,
      })),
    });
  }
  for (const klass of classes) klass.methods.sort((left, right) => left.index - right.index);
  classes.sort((left, right) => left.index - right.index);

  return {
    major: Number(root.major),
    minor: Number(root.minor),
    revision: Number(root.revision),
    port: Number(root.port),
    constants,
    classes,
  };
}

// ---------------------------------------------------------------------------------------------
// Naming

const words = (name) => name.split(/[-\s]+/).filter((word) => word.length > 0);
const upperSnake = (name) => words(name).join('_').toUpperCase();
const camel = (name) =>
  words(name)
    .map((word, index) =>
      index === 0 ? word.toLowerCase() : word[0].toUpperCase() + word.slice(1).toLowerCase(),
    )
    .join('');
const pascal = (name) => {
  const camelName = camel(name);
  return camelName[0].toUpperCase() + camelName.slice(1);
};
const methodLabel = (method) => `${method.className}.${method.name}`;
const typeName = (method) => pascal(method.className) + pascal(method.name);
const methodKey = (classIndex, methodIndex) => classIndex * 0x10000 + methodIndex;
const hex = (value) => `0x${value.toString(16).padStart(8, '0')}`;

const TS_TYPES = {
  bit: 'boolean',
  octet: 'number',
  short: 'number',
  long: 'number',
  longlong: 'number',
  timestamp: 'number',
  shortstr: 'string',
  longstr: 'Buffer',
  table: 'FieldTable',
};

// ---------------------------------------------------------------------------------------------
// constants.ts

function generateConstants(spec) {
  const lines = [];
  const emit = (line = '') => lines.push(line);
  emit(GENERATED_NOTICE);
  emit(`// Source: ${specLabel},`);
  emit("// plus NO_ROUTE (312) from RabbitMQ's codegen JSON (see scripts/gen-methods.mjs).");
  emit(
    '// AMQP 0-9-1 protocol constants: frame types and sizes, class ids and reply codes. Pure data,',
  );
  emit(
    '// safe on every thread. The channel and connection reply-code types follow the spec classes',
  );
  emit('// soft-error and hard-error; crossing that line needs a comment citing RabbitMQ.');
  emit();
  // frame-error is a reply code (it has an error class); the other frame-* constants are not.
  const isFrameConstant = (constant) =>
    constant.name.startsWith('frame-') && constant.errorClass === '';
  const frameConstants = spec.constants.filter(isFrameConstant);
  for (const constant of frameConstants) {
    const value = constant.name === 'frame-end' ? '0xce' : String(constant.value);
    emit(`export const ${upperSnake(constant.name)} = ${value};`);
  }
  emit();
  emit('/** Bytes before a frame payload: type (1), channel (2) and payload size (4). */');
  emit('export const FRAME_HEADER_BYTES = 7;');
  emit('/** Bytes a frame adds around its payload: the header plus the frame-end octet. */');
  emit('export const FRAME_OVERHEAD_BYTES = 8;');
  emit();
  emit(`export const PROTOCOL_VERSION_MAJOR = ${spec.major};`);
  emit(`export const PROTOCOL_VERSION_MINOR = ${spec.minor};`);
  emit(`export const PROTOCOL_VERSION_REVISION = ${spec.revision};`);
  emit(`export const AMQP_PORT = ${spec.port};`);
  emit();
  emit("/** The 8 octets a client sends first: 'AMQP', 0, then the version 0-9-1. */");
  emit(
    `export const PROTOCOL_HEADER: Buffer = Buffer.from([0x41, 0x4d, 0x51, 0x50, 0, ${spec.major}, ${spec.minor}, ${spec.revision}]);`,
  );
  emit();
  for (const klass of spec.classes) {
    emit(`export const CLASS_${upperSnake(klass.name)} = ${klass.index};`);
  }
  emit();

  const replyConstants = spec.constants
    .filter((constant) => !isFrameConstant(constant))
    .sort((left, right) => left.value - right.value);
  for (const constant of replyConstants) {
    emit(`export const ${upperSnake(constant.name)} = ${constant.value};`);
  }
  emit();
  const soft = replyConstants.filter((constant) => constant.errorClass === 'soft-error');
  const hard = replyConstants.filter((constant) => constant.errorClass === 'hard-error');
  const plain = replyConstants.filter((constant) => constant.errorClass === '');
  const union = (list) => list.map((constant) => `typeof ${upperSnake(constant.name)}`).join(' | ');
  emit('/** Soft errors: the spec closes only the channel with these (channel.close). */');
  emit(`export type ChannelReplyCode = ${union(soft)};`);
  emit('/** Hard errors: the spec closes the whole connection with these (connection.close). */');
  emit(`export type ConnectionReplyCode = ${union(hard)};`);
  emit('/** Every reply code the spec and RabbitMQ define. */');
  emit(
    `export type ReplyCode = ${[union(plain), 'ChannelReplyCode', 'ConnectionReplyCode'].join(' | ')};`,
  );
  emit();
  emit(
    `export const CHANNEL_REPLY_CODES: readonly ChannelReplyCode[] = [${soft.map((constant) => upperSnake(constant.name)).join(', ')}];`,
  );
  emit(
    `export const CONNECTION_REPLY_CODES: readonly ConnectionReplyCode[] = [${hard.map((constant) => upperSnake(constant.name)).join(', ')}];`,
  );
  emit();
  emit('/** True for the spec soft errors, which close only a channel. */');
  emit('export function isChannelReplyCode(code: number): code is ChannelReplyCode {');
  emit('  switch (code) {');
  for (const constant of soft) emit(`    case ${upperSnake(constant.name)}:`);
  emit('      return true;');
  emit('    default:');
  emit('      return false;');
  emit('  }');
  emit('}');
  emit();
  emit('/** True for the spec hard errors, which close the connection. */');
  emit('export function isConnectionReplyCode(code: number): code is ConnectionReplyCode {');
  emit('  switch (code) {');
  for (const constant of hard) emit(`    case ${upperSnake(constant.name)}:`);
  emit('      return true;');
  emit('    default:');
  emit('      return false;');
  emit('  }');
  emit('}');
  emit();
  emit('/** True for every reply code in {@link ReplyCode}. */');
  emit('export function isReplyCode(code: number): code is ReplyCode {');
  emit('  return replyCodeName(code) !== undefined;');
  emit('}');
  emit();
  emit("/** The spec's name of a reply code in UPPER_SNAKE, as RabbitMQ prefixes reply texts. */");
  emit('export function replyCodeName(code: number): string | undefined {');
  emit('  switch (code) {');
  for (const constant of replyConstants) {
    emit(`    case ${upperSnake(constant.name)}:`);
    emit(`      return '${upperSnake(constant.name)}';`);
  }
  emit('    default:');
  emit('      return undefined;');
  emit('  }');
  emit('}');
  return lines.join('\n') + '\n';
}

// ---------------------------------------------------------------------------------------------
// methods.ts

// Groups consecutive bit fields into packed octets, as the spec's wire format does: up to eight
// bits share one octet, and any other field type ends the group.
function packFields(fields) {
  const packed = [];
  let bits = null;
  for (const field of fields) {
    if (field.kind === 'bit') {
      if (bits === null || bits.fields.length === 8) {
        bits = { kind: 'bits', fields: [] };
        packed.push(bits);
      }
      bits.fields.push(field);
    } else {
      bits = null;
      packed.push(field);
    }
  }
  return packed;
}

const STRICT_MODE_RESERVED = new Set(['arguments', 'eval']);

function decoderBody(method) {
  const lines = [];
  let bitsIndex = 0;
  const values = [];
  for (const item of packFields(method.fields)) {
    if (item.kind === 'bits') {
      const used = item.fields.filter((field) => !field.isReserved);
      if (used.length === 0) {
        lines.push('  reader.skip(1);');
        continue;
      }
      const variable = `bits${bitsIndex++}`;
      lines.push(`  const ${variable} = reader.u8();`);
      item.fields.forEach((field, position) => {
        if (!field.isReserved) {
          values.push(`${camel(field.name)}: (${variable} & ${1 << position}) !== 0`);
        }
      });
      continue;
    }
    const field = item;
    if (field.isReserved) {
      lines.push(`  ${skipExpression(field.kind)};`);
      continue;
    }
    const name = camel(field.name);
    // `arguments` cannot name a local in strict mode code.
    const local = STRICT_MODE_RESERVED.has(name) ? `field${pascal(field.name)}` : name;
    lines.push(`  const ${local} = ${readExpression(field, method)};`);
    values.push(local === name ? name : `${name}: ${local}`);
  }
  const objectFields = [`method: '${methodLabel(method)}'`, ...values.map((value) => value)];
  lines.push(`  return { ${objectFields.join(', ')} };`);
  return lines.join('\n');
}

function skipExpression(kind) {
  switch (kind) {
    case 'octet':
      return 'reader.skip(1)';
    case 'short':
      return 'reader.skip(2)';
    case 'long':
      return 'reader.skip(4)';
    case 'longlong':
    case 'timestamp':
      return 'reader.skip(8)';
    case 'shortstr':
      return 'reader.skipShortString()';
    case 'longstr':
      return 'reader.skipLongString()';
    case 'table':
      return 'reader.skipTable()';
    default:
      throw new Error(`cannot skip a reserved ${kind}`);
  }
}

function readExpression(field, method) {
  switch (field.kind) {
    case 'octet':
      return 'reader.u8()';
    case 'short':
      return 'reader.u16()';
    case 'long':
      return 'reader.u32()';
    case 'longlong':
    case 'timestamp':
      return 'reader.u64()';
    case 'shortstr':
      // RabbitMQ checks UTF-8 in the shortstr fields of every method except those that carry
      // content, which it skips for speed (codegen.py, genFieldPostprocessing). We do the same.
      return method.hasContent ? 'reader.shortString()' : 'reader.shortStringValidated()';
    case 'longstr':
      return 'reader.longStringCopy()';
    case 'table':
      return 'reader.table()';
    default:
      throw new Error(`cannot read ${field.kind}`);
  }
}

function encoderBody(method, klass) {
  const lines = [`  writer.u32(${hex(methodKey(klass.index, method.index))});`];
  for (const item of packFields(method.fields)) {
    if (item.kind === 'bits') {
      const parts = [];
      item.fields.forEach((field, position) => {
        if (!field.isReserved) parts.push(`(method.${camel(field.name)} ? ${1 << position} : 0)`);
      });
      lines.push(`  writer.u8(${parts.length === 0 ? '0' : parts.join(' | ')});`);
      continue;
    }
    const field = item;
    if (field.isReserved) {
      lines.push(`  ${reservedWrite(field.kind)};`);
      continue;
    }
    lines.push(`  ${writeStatement(field)};`);
  }
  return lines.join('\n');
}

function reservedWrite(kind) {
  switch (kind) {
    case 'octet':
    case 'shortstr':
      return 'writer.u8(0)';
    case 'short':
      return 'writer.u16(0)';
    case 'long':
    case 'longstr':
    case 'table':
      return 'writer.u32(0)';
    case 'longlong':
    case 'timestamp':
      return 'writer.u64(0)';
    default:
      throw new Error(`cannot write a reserved ${kind}`);
  }
}

function writeStatement(field) {
  const value = `method.${camel(field.name)}`;
  switch (field.kind) {
    case 'octet':
      return `writer.u8(${value})`;
    case 'short':
      return `writer.u16(${value})`;
    case 'long':
      return `writer.u32(${value})`;
    case 'longlong':
    case 'timestamp':
      return `writeUnsigned64(writer, ${value}, '${field.name}')`;
    case 'shortstr':
      // RabbitMQ cuts long reply texts to 252 bytes plus '...' rather than fail the close.
      return field.domain === 'reply-text'
        ? `writer.shortStringTruncated(${value})`
        : `writer.shortString(${value})`;
    case 'longstr':
      return `writer.longString(${value})`;
    case 'table':
      return `writer.table(${value})`;
    default:
      throw new Error(`cannot write ${field.kind}`);
  }
}

function generateMethods(spec) {
  const methods = spec.classes.flatMap((klass) =>
    klass.methods.map((method) => ({ ...method, klass })),
  );
  const lines = [];
  const emit = (line = '') => lines.push(line);
  emit(GENERATED_NOTICE);
  emit(`// Source: ${specLabel}, plus connection.blocked,`);
  emit(
    "// unblocked, update-secret and update-secret-ok from RabbitMQ's codegen JSON, which the XML",
  );
  emit('// lacks. One interface, decoder and encoder per method, and the dispatch tables; pure');
  emit(
    '// functions over ByteReader and ByteWriter, any thread. Invariants: decoded methods never',
  );
  emit(
    '// alias the input buffer (longstr fields are copied), and a payload decodes only when every',
  );
  emit('// byte is consumed, as RabbitMQ requires.');
  emit();
  emit("import { ByteReader } from './byte-reader.js';");
  emit("import type { ByteWriter } from './byte-writer.js';");
  emit(
    "import { FRAME_ERROR, FRAME_METHOD, INTERNAL_ERROR, NOT_IMPLEMENTED } from './constants.js';",
  );
  emit("import { ConnectionError } from './errors.js';");
  emit("import type { FieldTable } from './field-table.js';");
  emit("import { beginFrame, endFrame } from './frame-writer.js';");
  emit();

  for (const method of methods) {
    const direction =
      method.sentBy === 'either'
        ? 'sent by either peer'
        : method.sentBy === 'client'
          ? 'sent by the client'
          : 'sent by the server';
    const notes = [direction];
    if (method.isSynchronous) notes.push('synchronous');
    if (method.hasContent) notes.push('carries content');
    if (method.isExtension) notes.push('RabbitMQ extension');
    emit(
      `/** ${methodLabel(method)} (${method.klass.index}, ${method.index}): ${notes.join(', ')}. */`,
    );
    emit(`export interface ${typeName(method)} {`);
    emit(`  method: '${methodLabel(method)}';`);
    for (const field of method.fields) {
      if (!field.isReserved) emit(`  ${camel(field.name)}: ${TS_TYPES[field.kind]};`);
    }
    emit('}');
    emit();
  }

  emit('/** Every AMQP 0-9-1 method, discriminated by `method` (the spec name `class.method`). */');
  emit(
    `export type AmqpMethod =\n${methods.map((method) => `  | ${typeName(method)}`).join('\n')};`,
  );
  emit();
  emit("export type AmqpMethodName = AmqpMethod['method'];");
  emit();
  emit('/** The method interface for one method name. */');
  emit('export type AmqpMethodOf<N extends AmqpMethodName> = Extract<AmqpMethod, { method: N }>;');
  emit();
  emit('export interface MethodInfo {');
  emit('  readonly classId: number;');
  emit('  readonly methodId: number;');
  emit('  /** The spec marks the method synchronous: it expects a reply, or is one. */');
  emit('  readonly isSynchronous: boolean;');
  emit('  /** A content header and body frames follow the method frame. */');
  emit('  readonly hasContent: boolean;');
  emit('}');
  emit();
  emit('export const METHOD_IDS: Readonly<Record<AmqpMethodName, MethodInfo>> = {');
  for (const method of methods) {
    emit(
      `  '${methodLabel(method)}': { classId: ${method.klass.index}, methodId: ${method.index}, isSynchronous: ${method.isSynchronous}, hasContent: ${method.hasContent} },`,
    );
  }
  emit('};');
  emit();
  emit('/** Wire types of method fields, after resolving spec domains. */');
  emit(
    "export type MethodFieldKind = 'bit' | 'octet' | 'short' | 'long' | 'longlong' | 'timestamp' | 'shortstr' | 'longstr' | 'table';",
  );
  emit();
  emit('export interface MethodFieldInfo {');
  emit('  /** The camelCase property name on the method object. */');
  emit('  readonly name: string;');
  emit('  readonly kind: MethodFieldKind;');
  emit('  /** The spec domain the field is declared with, for example `exchange-name`. */');
  emit('  readonly domain: string;');
  emit('}');
  emit();
  emit(
    '/** The non-reserved fields of every method, in wire order. Reserved fields are omitted. */',
  );
  emit(
    'export const METHOD_FIELDS: Readonly<Record<AmqpMethodName, readonly MethodFieldInfo[]>> = {',
  );
  for (const method of methods) {
    const fields = method.fields
      .filter((field) => !field.isReserved)
      .map(
        (field) =>
          `{ name: '${camel(field.name)}', kind: '${field.kind}', domain: '${field.domain}' }`,
      );
    emit(`  '${methodLabel(method)}': [${fields.join(', ')}],`);
  }
  emit('};');
  emit();
  emit('/** Method keys (class id << 16 | method id), as read from the first 4 payload octets. */');
  for (const method of methods) {
    emit(
      `export const METHOD_${upperSnake(method.className)}_${upperSnake(method.name)} = ${hex(methodKey(method.klass.index, method.index))};`,
    );
  }
  emit();
  emit('/** The key of a method: class id in the high 16 bits, method id in the low 16. */');
  emit('export function methodKey(classId: number, methodId: number): number {');
  emit('  return classId * 0x10000 + methodId;');
  emit('}');
  emit();
  emit('/** The spec name (`class.method`) of a method id pair, or undefined when unknown. */');
  emit(
    'export function methodName(classId: number, methodId: number): AmqpMethodName | undefined {',
  );
  emit('  switch (methodKey(classId, methodId)) {');
  for (const method of methods) {
    emit(`    case ${hex(methodKey(method.klass.index, method.index))}:`);
    emit(`      return '${methodLabel(method)}';`);
  }
  emit('    default:');
  emit('      return undefined;');
  emit('  }');
  emit('}');
  emit();
  emit('const sharedReader = new ByteReader();');
  emit();
  emit('/**');
  emit(
    ' * Decodes a method frame payload: class id, method id, then the fields. Throws ConnectionError',
  );
  emit(
    ' * with FRAME_ERROR when the fields are malformed, truncated or followed by trailing bytes',
  );
  emit(' * (RabbitMQ: rabbit_misc:frame_error, "cannot decode"), and with NOT_IMPLEMENTED for an');
  emit(' * unknown class or method id. Pass a per-connection reader to skip the module one.');
  emit(' */');
  emit(
    'export function decodeMethod(buf: Buffer, start: number, end: number, reader: ByteReader = sharedReader): AmqpMethod {',
  );
  emit('  if (end - start < 4) {');
  emit('    throw new ConnectionError(');
  emit('      FRAME_ERROR,');
  emit(
    '      `FRAME_ERROR - method frame payload of ${end - start} bytes has no class and method id`,',
  );
  emit('    );');
  emit('  }');
  emit('  const classId = (buf[start]! << 8) | buf[start + 1]!;');
  emit('  const methodId = (buf[start + 2]! << 8) | buf[start + 3]!;');
  emit('  reader.reset(buf, start + 4, end);');
  emit('  let decoded: AmqpMethod;');
  emit('  switch (classId * 0x10000 + methodId) {');
  for (const method of methods) {
    emit(`    case ${hex(methodKey(method.klass.index, method.index))}:`);
    emit(
      `      reader.setContext('${methodLabel(method)}', ${method.klass.index}, ${method.index});`,
    );
    emit(`      decoded = decode${typeName(method)}(reader);`);
    emit('      break;');
  }
  emit('    default:');
  emit('      throw unknownMethod(classId, methodId);');
  emit('  }');
  emit('  reader.expectEnd();');
  emit('  return decoded;');
  emit('}');
  emit();
  emit('// RabbitMQ has no graceful answer here: rabbit_framing lookup_method_name exits with');
  emit(
    '// {unknown_method_id, Id}, which nothing in rabbit_reader catches, so the connection process dies',
  );
  emit(
    '// and the socket closes without connection.close. LavinMQ closes with 540 NOT_IMPLEMENTED',
  );
  emit('// (AMQ::Protocol::Error::NotImplemented); we do the same so the client learns why.');
  emit('function unknownMethod(classId: number, methodId: number): ConnectionError {');
  emit('  return new ConnectionError(');
  emit('    NOT_IMPLEMENTED,');
  emit('    `NOT_IMPLEMENTED - unknown method id ${methodId} in class ${classId}`,');
  emit('    classId,');
  emit('    methodId,');
  emit('  );');
  emit('}');
  emit();
  emit('/** Writes a method payload: class id, method id and the fields. */');
  emit('export function encodeMethodPayload(writer: ByteWriter, method: AmqpMethod): void {');
  emit('  switch (method.method) {');
  for (const method of methods) {
    emit(`    case '${methodLabel(method)}':`);
    emit(`      encode${typeName(method)}(writer, method);`);
    emit('      return;');
  }
  emit('  }');
  emit('}');
  emit();
  emit('/**');
  emit(
    ' * Writes a whole method frame (type 1, channel, size, payload, frame-end). When a field cannot',
  );
  emit(' * be encoded the writer is rewound to where the frame began and the error is rethrown.');
  emit(' */');
  emit(
    'export function encodeMethodFrame(writer: ByteWriter, channel: number, method: AmqpMethod): void {',
  );
  emit('  const frameStart = writer.position;');
  emit('  const sizeAt = beginFrame(writer, FRAME_METHOD, channel);');
  emit('  try {');
  emit('    encodeMethodPayload(writer, method);');
  emit('  } catch (error) {');
  emit('    writer.rewind(frameStart);');
  emit('    throw error;');
  emit('  }');
  emit('  endFrame(writer, sizeAt);');
  emit('}');
  emit();
  emit(
    '// Delivery tags are spec longlongs; Warren keeps them as numbers and never issues one above',
  );
  emit('// 2^53 - 1, so a value that is not a safe non-negative integer is a bug in the caller.');
  emit('function writeUnsigned64(writer: ByteWriter, value: number, fieldName: string): void {');
  emit('  if (!Number.isSafeInteger(value) || value < 0) {');
  emit('    throw new ConnectionError(');
  emit('      INTERNAL_ERROR,');
  emit(
    '      `INTERNAL_ERROR - cannot encode ${fieldName} ${value}: not a safe non-negative integer`,',
  );
  emit('    );');
  emit('  }');
  emit('  writer.u64(value);');
  emit('}');
  emit();
  for (const method of methods) {
    emit(
      `/** Decodes the fields of ${methodLabel(method)}; the reader starts after the method id. */`,
    );
    const readerName = method.fields.length === 0 ? '_reader' : 'reader';
    emit(
      `export function decode${typeName(method)}(${readerName}: ByteReader): ${typeName(method)} {`,
    );
    emit(decoderBody(method));
    emit('}');
    emit();
    emit(`/** Writes the ${methodLabel(method)} payload, class and method id included. */`);
    const usesMessage = method.fields.some((field) => !field.isReserved);
    emit(
      `export function encode${typeName(method)}(writer: ByteWriter, ${usesMessage ? 'method' : '_method'}: ${typeName(method)}): void {`,
    );
    emit(encoderBody(method, method.klass));
    emit('}');
    emit();
  }
  return lines.join('\n');
}

// ---------------------------------------------------------------------------------------------

async function format(source, filePath) {
  try {
    const prettier = await import('prettier');
    const options = (await prettier.resolveConfig(filePath)) ?? {};
    return await prettier.format(source, { ...options, filepath: filePath });
  } catch (error) {
    if (error?.code !== 'ERR_MODULE_NOT_FOUND') throw error;
    process.stderr.write('prettier is not installed; writing unformatted output\n');
    return source;
  }
}

const spec = readSpec(specPath);
const outputs = [
  [join(codecDirectory, 'constants.ts'), generateConstants(spec)],
  [join(codecDirectory, 'methods.ts'), generateMethods(spec)],
];
for (const [filePath, source] of outputs) {
  writeFileSync(filePath, await format(source, filePath));
  process.stdout.write(`wrote ${relative(repositoryRoot, filePath)}\n`);
}
