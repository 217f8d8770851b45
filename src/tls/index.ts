// TLS 1.3 for QUIC: a message-level engine without record layer (RFC 8446, RFC 9001 §4).
export { createClientSession } from './client.js';
export {
  Alert,
  CIPHER_SUITES,
  type CipherSuite,
  type CipherSuiteInfo,
  type GroupName,
  SignatureScheme,
} from './constants.js';
export { MAX_HANDSHAKE_BUFFER } from './handshake-buffer.js';
export { createServerSession } from './server.js';
export type { TlsClientConfig, TlsEvent, TlsServerConfig, TlsSession } from './session.js';
export {
  AntiReplay,
  type AntiReplayOptions,
  deserializeSessionTicket,
  type SessionTicket,
  serializeSessionTicket,
} from './tickets.js';
