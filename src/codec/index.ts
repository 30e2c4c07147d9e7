// The codec's public entry: other folders import only this file. Everything here is pure AMQP
// 0-9-1 vocabulary (constants, errors, byte readers and writers, field tables, properties, method
// codecs and the frame reader) and imports nothing from the rest of src.

export * from './constants.js';
export * from './errors.js';
export { ByteReader, decodeFieldTable } from './byte-reader.js';
export { ByteWriter, encodeFieldTable } from './byte-writer.js';
export { copyBytes } from './copy-bytes.js';
export {
  Decimal,
  FIELD_TABLE_DEPTH_MAX,
  fieldTablesEquivalent,
  fieldTypeOf,
  Timestamp,
  TypedField,
  type FieldTable,
  type FieldValue,
  type TypedFieldTag,
} from './field-table.js';
export * from './properties.js';
export * from './methods.js';
export { FrameReader, type FrameSink } from './frame-reader.js';
export { beginFrame, encodeBodyFrames, encodeHeartbeatFrame, endFrame } from './frame-writer.js';
export * from './hot-path.js';
