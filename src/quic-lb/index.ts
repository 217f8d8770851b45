// QUIC-LB: routable connection IDs and the stateless load-balancer decision.
// Implements draft-ietf-quic-load-balancers-21 (algorithms unchanged in the editor's copy of
// 2026-05-29): plaintext, single-pass and four-pass server ID encodings, config rotation,
// length self-description, unroutable CIDs and the baseline fallback.
export {
  expand,
  type FourPassTrace,
  QuicLbCipher,
  truncate,
} from './cipher.js';
export {
  QuicLbAlgorithm,
  QuicLbConfig,
  type QuicLbConfigOptions,
  UNROUTABLE_CONFIG_ROTATION,
} from './config.js';
export {
  QuicLbConnectionIdGenerator,
  type QuicLbGeneratorOptions,
  QuicLbNonceExhaustedError,
  type QuicLbNonceState,
  UnroutableConnectionIdGenerator,
  unroutableGenerator,
} from './generator.js';
export {
  type FourTuple,
  firstFlightFallback,
  fourTupleHash,
  QuicLbRouter,
  type RouteDecision,
  type RouteReason,
  rendezvousFallback,
} from './router.js';
