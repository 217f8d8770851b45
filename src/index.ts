// Public entry point of feather-quic. Filled in as layers land.
export { TransportError, TransportErrorCode } from './common/errors.js';
