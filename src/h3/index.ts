// HTTP/3, QPACK and hq-interop (sans-IO), plus the static file helper for the runtime.
export type { H3ConnectionOptions, H3Event, RequestOptions, RespondOptions } from './connection.js';
export { H3Connection } from './connection.js';
export { H3Error, H3ErrorCode, h3ErrorName, isGrease } from './errors.js';
export type { H3Settings } from './frames.js';
export { FrameType, SettingId, StreamType } from './frames.js';
export type { HeadersInit } from './headers.js';
export type { HqEvent, HqInteropOptions } from './hq-interop.js';
export { HqInteropConnection } from './hq-interop.js';
export { QpackDecoder } from './qpack/decoder.js';
export { QpackEncoder } from './qpack/encoder.js';
export type { FieldLine } from './qpack/types.js';
export type { StaticFileOptions, StaticFileResponse } from './static-files.js';
export { contentTypeOf, resolveStaticFile } from './static-files.js';
export type { H3Transport } from './transport.js';
