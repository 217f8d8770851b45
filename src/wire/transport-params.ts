// QUIC transport parameters (RFC 9000 §7.3, §7.4, §18), with max_datagram_frame_size (RFC 9221
// §3), version_information (RFC 9368 §3) and grease_quic_bit (RFC 9287 §3).
import { bytesToIp, ipToBytes, type SocketAddress } from '../common/addr.js';
import { equalBytes } from '../common/bytes.js';
import { TransportError, TransportErrorCode } from '../common/errors.js';
import type { Role } from '../common/levels.js';
import { type Random, randomInt } from '../common/random.js';
import { MAX_CONNECTION_ID_LENGTH } from './header.js';
import { BufferReader } from './reader.js';
import { varintLength } from './varint.js';
import { varintBigAt } from './varint-big.js';
import { BufferWriter } from './writer.js';

export const TransportParameterId = {
  ORIGINAL_DESTINATION_CONNECTION_ID: 0x00,
  MAX_IDLE_TIMEOUT: 0x01,
  STATELESS_RESET_TOKEN: 0x02,
  MAX_UDP_PAYLOAD_SIZE: 0x03,
  INITIAL_MAX_DATA: 0x04,
  INITIAL_MAX_STREAM_DATA_BIDI_LOCAL: 0x05,
  INITIAL_MAX_STREAM_DATA_BIDI_REMOTE: 0x06,
  INITIAL_MAX_STREAM_DATA_UNI: 0x07,
  INITIAL_MAX_STREAMS_BIDI: 0x08,
  INITIAL_MAX_STREAMS_UNI: 0x09,
  ACK_DELAY_EXPONENT: 0x0a,
  MAX_ACK_DELAY: 0x0b,
  DISABLE_ACTIVE_MIGRATION: 0x0c,
  PREFERRED_ADDRESS: 0x0d,
  ACTIVE_CONNECTION_ID_LIMIT: 0x0e,
  INITIAL_SOURCE_CONNECTION_ID: 0x0f,
  RETRY_SOURCE_CONNECTION_ID: 0x10,
  VERSION_INFORMATION: 0x11,
  MAX_DATAGRAM_FRAME_SIZE: 0x20,
  GREASE_QUIC_BIT: 0x2ab2,
} as const;

export interface PreferredAddress {
  ipv4: SocketAddress | undefined;
  ipv6: SocketAddress | undefined;
  connectionId: Uint8Array;
  statelessResetToken: Uint8Array;
}

export interface VersionInformation {
  chosen: number;
  available: number[];
}

export interface TransportParameters {
  originalDestinationConnectionId: Uint8Array | undefined;
  /** Milliseconds; 0 = no idle timeout. */
  maxIdleTimeout: number;
  statelessResetToken: Uint8Array | undefined;
  maxUdpPayloadSize: number;
  initialMaxData: number;
  initialMaxStreamDataBidiLocal: number;
  initialMaxStreamDataBidiRemote: number;
  initialMaxStreamDataUni: number;
  initialMaxStreamsBidi: number;
  initialMaxStreamsUni: number;
  ackDelayExponent: number;
  /** Milliseconds. */
  maxAckDelay: number;
  disableActiveMigration: boolean;
  preferredAddress: PreferredAddress | undefined;
  activeConnectionIdLimit: number;
  initialSourceConnectionId: Uint8Array | undefined;
  retrySourceConnectionId: Uint8Array | undefined;
  maxDatagramFrameSize: number | undefined;
  versionInformation: VersionInformation | undefined;
  greaseQuicBit: boolean;
}

export const DEFAULT_MAX_UDP_PAYLOAD_SIZE = 65527;
export const DEFAULT_ACK_DELAY_EXPONENT = 3;
export const DEFAULT_MAX_ACK_DELAY = 25;
export const DEFAULT_ACTIVE_CONNECTION_ID_LIMIT = 2;
export const MIN_MAX_UDP_PAYLOAD_SIZE = 1200;
export const MAX_ACK_DELAY_EXPONENT = 20;
/** max_ack_delay values of 2^14 or more are invalid (RFC 9000 §18.2). */
export const MAX_MAX_ACK_DELAY = 2 ** 14 - 1;
export const MAX_STREAMS_LIMIT = 2 ** 60;

/** Values in effect when a parameter is absent (RFC 9000 §18.2). */
export function defaultTransportParameters(): TransportParameters {
  return {
    originalDestinationConnectionId: undefined,
    maxIdleTimeout: 0,
    statelessResetToken: undefined,
    maxUdpPayloadSize: DEFAULT_MAX_UDP_PAYLOAD_SIZE,
    initialMaxData: 0,
    initialMaxStreamDataBidiLocal: 0,
    initialMaxStreamDataBidiRemote: 0,
    initialMaxStreamDataUni: 0,
    initialMaxStreamsBidi: 0,
    initialMaxStreamsUni: 0,
    ackDelayExponent: DEFAULT_ACK_DELAY_EXPONENT,
    maxAckDelay: DEFAULT_MAX_ACK_DELAY,
    disableActiveMigration: false,
    preferredAddress: undefined,
    activeConnectionIdLimit: DEFAULT_ACTIVE_CONNECTION_ID_LIMIT,
    initialSourceConnectionId: undefined,
    retrySourceConnectionId: undefined,
    maxDatagramFrameSize: undefined,
    versionInformation: undefined,
    greaseQuicBit: false,
  };
}

// ---------------------------------------------------------------------------------------------
// Encoding

export interface EncodeTransportParametersOptions {
  /** Role of the sender. Server-only parameters are left out for 'client' (RFC 9000 §18.2). */
  role: Role;
  /** When given, one reserved parameter 31*N+27 with a random value is added (RFC 9000 §18.1). */
  greaseRandom?: Random | undefined;
}

const ID = TransportParameterId;

function intParam(w: BufferWriter, id: number, v: number): void {
  w.varint(id).varint(varintLength(v)).varint(v);
}

function bytesParam(w: BufferWriter, id: number, b: Uint8Array): void {
  w.varint(id).varint(b.length).bytes(b);
}

function checkCid(cid: Uint8Array, name: string): void {
  if (cid.length > MAX_CONNECTION_ID_LENGTH) throw new RangeError(`${name} longer than 20 octets`);
}

function addressBytes(a: SocketAddress | undefined, family: 4 | 16): Uint8Array {
  if (!a) return new Uint8Array(family);
  const b = ipToBytes(a.address);
  if (!b || b.length !== family)
    throw new RangeError(`preferred_address: not an IPv${family === 4 ? 4 : 6} address`);
  return b;
}

/** Encodes `tp` as the quic_transport_parameters extension value; defaults are left out. */
export function encodeTransportParameters(
  tp: TransportParameters,
  opts: EncodeTransportParametersOptions,
): Uint8Array {
  const w = new BufferWriter(128);
  const server = opts.role === 'server';
  if (server && tp.originalDestinationConnectionId) {
    checkCid(tp.originalDestinationConnectionId, 'original_destination_connection_id');
    bytesParam(w, ID.ORIGINAL_DESTINATION_CONNECTION_ID, tp.originalDestinationConnectionId);
  }
  if (tp.maxIdleTimeout !== 0) intParam(w, ID.MAX_IDLE_TIMEOUT, tp.maxIdleTimeout);
  if (server && tp.statelessResetToken) {
    if (tp.statelessResetToken.length !== 16) throw new RangeError('stateless_reset_token must be 16 octets');
    bytesParam(w, ID.STATELESS_RESET_TOKEN, tp.statelessResetToken);
  }
  if (tp.maxUdpPayloadSize !== DEFAULT_MAX_UDP_PAYLOAD_SIZE) {
    intParam(w, ID.MAX_UDP_PAYLOAD_SIZE, tp.maxUdpPayloadSize);
  }
  if (tp.initialMaxData !== 0) intParam(w, ID.INITIAL_MAX_DATA, tp.initialMaxData);
  if (tp.initialMaxStreamDataBidiLocal !== 0) {
    intParam(w, ID.INITIAL_MAX_STREAM_DATA_BIDI_LOCAL, tp.initialMaxStreamDataBidiLocal);
  }
  if (tp.initialMaxStreamDataBidiRemote !== 0) {
    intParam(w, ID.INITIAL_MAX_STREAM_DATA_BIDI_REMOTE, tp.initialMaxStreamDataBidiRemote);
  }
  if (tp.initialMaxStreamDataUni !== 0)
    intParam(w, ID.INITIAL_MAX_STREAM_DATA_UNI, tp.initialMaxStreamDataUni);
  if (tp.initialMaxStreamsBidi !== 0) intParam(w, ID.INITIAL_MAX_STREAMS_BIDI, tp.initialMaxStreamsBidi);
  if (tp.initialMaxStreamsUni !== 0) intParam(w, ID.INITIAL_MAX_STREAMS_UNI, tp.initialMaxStreamsUni);
  if (tp.ackDelayExponent !== DEFAULT_ACK_DELAY_EXPONENT)
    intParam(w, ID.ACK_DELAY_EXPONENT, tp.ackDelayExponent);
  if (tp.maxAckDelay !== DEFAULT_MAX_ACK_DELAY) intParam(w, ID.MAX_ACK_DELAY, tp.maxAckDelay);
  if (tp.disableActiveMigration) w.varint(ID.DISABLE_ACTIVE_MIGRATION).varint(0);
  if (server && tp.preferredAddress) {
    const pa = tp.preferredAddress;
    // RFC 9000 §18.2: a server MUST NOT include a zero-length connection ID here.
    if (pa.connectionId.length < 1 || pa.connectionId.length > MAX_CONNECTION_ID_LENGTH) {
      throw new RangeError('preferred_address connection ID must be 1..20 octets');
    }
    if (pa.statelessResetToken.length !== 16)
      throw new RangeError('preferred_address token must be 16 octets');
    w.varint(ID.PREFERRED_ADDRESS).varint(4 + 2 + 16 + 2 + 1 + pa.connectionId.length + 16);
    w.bytes(addressBytes(pa.ipv4, 4)).u16(pa.ipv4?.port ?? 0);
    w.bytes(addressBytes(pa.ipv6, 16)).u16(pa.ipv6?.port ?? 0);
    w.u8(pa.connectionId.length).bytes(pa.connectionId).bytes(pa.statelessResetToken);
  }
  if (tp.activeConnectionIdLimit !== DEFAULT_ACTIVE_CONNECTION_ID_LIMIT) {
    intParam(w, ID.ACTIVE_CONNECTION_ID_LIMIT, tp.activeConnectionIdLimit);
  }
  if (tp.initialSourceConnectionId) {
    checkCid(tp.initialSourceConnectionId, 'initial_source_connection_id');
    bytesParam(w, ID.INITIAL_SOURCE_CONNECTION_ID, tp.initialSourceConnectionId);
  }
  if (server && tp.retrySourceConnectionId) {
    checkCid(tp.retrySourceConnectionId, 'retry_source_connection_id');
    bytesParam(w, ID.RETRY_SOURCE_CONNECTION_ID, tp.retrySourceConnectionId);
  }
  if (tp.versionInformation) {
    const vi = tp.versionInformation;
    w.varint(ID.VERSION_INFORMATION)
      .varint(4 + 4 * vi.available.length)
      .u32(vi.chosen);
    for (const v of vi.available) w.u32(v);
  }
  if (tp.maxDatagramFrameSize !== undefined) intParam(w, ID.MAX_DATAGRAM_FRAME_SIZE, tp.maxDatagramFrameSize);
  if (tp.greaseQuicBit) w.varint(ID.GREASE_QUIC_BIT).varint(0);
  if (opts.greaseRandom) {
    // RFC 9000 §18.1: reserved identifiers 31 * N + 27 exercise "ignore unknown parameters".
    const rng = opts.greaseRandom;
    const value = new Uint8Array(randomInt(rng, 17));
    rng.fill(value);
    bytesParam(w, 31 * randomInt(rng, 0x10000) + 27, value);
  }
  return w.finish();
}

// ---------------------------------------------------------------------------------------------
// Decoding

function tpError(reason: string): never {
  throw new TransportError(TransportErrorCode.TRANSPORT_PARAMETER_ERROR, reason);
}

/** An integer parameter: exactly one varint filling the value (RFC 9000 §18.2). */
function intValue(v: BufferReader): number {
  const x = v.varint();
  if (!v.done) tpError('integer parameter longer than its varint');
  return x;
}

function cidValue(v: BufferReader, name: string): Uint8Array {
  // RFC 9000 §17.2: connection IDs are at most 20 octets.
  if (v.remaining > MAX_CONNECTION_ID_LENGTH) tpError(`${name} longer than 20 octets`);
  return v.copy(v.remaining);
}

function streamsValue(v: BufferReader): number {
  const pos = v.offset;
  const x = intValue(v);
  // RFC 9000 §18.2, §19.11: stream limits above 2^60 are invalid.
  if (x >= MAX_STREAMS_LIMIT && varintBigAt(v.buf, pos) > 1n << 60n) tpError('stream limit above 2^60');
  return x;
}

function isZero(b: Uint8Array): boolean {
  for (let i = 0; i < b.length; i++) if (b[i] !== 0) return false;
  return true;
}

function preferredAddressValue(v: BufferReader): PreferredAddress {
  const ip4 = v.bytes(4);
  const port4 = v.u16();
  const ip6 = v.bytes(16);
  const port6 = v.u16();
  const cidLength = v.u8();
  // RFC 9000 §18.2: a zero-length connection ID MUST be a TRANSPORT_PARAMETER_ERROR.
  if (cidLength === 0) tpError('preferred_address with zero-length connection ID');
  if (cidLength > MAX_CONNECTION_ID_LENGTH) tpError('preferred_address connection ID longer than 20 octets');
  const connectionId = v.copy(cidLength);
  const statelessResetToken = v.copy(16);
  if (!v.done) tpError('preferred_address too long');
  return {
    // RFC 9000 §18.2: an all-zero address and port means "no address of this family".
    ipv4: isZero(ip4) && port4 === 0 ? undefined : { address: bytesToIp(ip4), port: port4 },
    ipv6: isZero(ip6) && port6 === 0 ? undefined : { address: bytesToIp(ip6), port: port6 },
    connectionId,
    statelessResetToken,
  };
}

function versionInformationValue(v: BufferReader, senderRole: Role): VersionInformation {
  // RFC 9368 §4: too short or not a multiple of 4 octets is a parsing failure.
  if (v.remaining < 4 || v.remaining % 4 !== 0) tpError('malformed version_information');
  const chosen = v.u32();
  // RFC 9368 §4: a Chosen or Available Version of 0 is a parsing failure.
  if (chosen === 0) tpError('version_information chosen version 0');
  const available: number[] = [];
  while (!v.done) {
    const a = v.u32();
    if (a === 0) tpError('version_information available version 0');
    available.push(a);
  }
  // RFC 9368 §4: a server MUST treat a client Chosen Version missing from Available Versions as a
  // parsing failure.
  if (senderRole === 'client' && !available.includes(chosen))
    tpError('chosen version not in available versions');
  return { chosen, available };
}

/**
 * Decodes the peer's transport parameters; `senderRole` is the role of the peer. Throws only
 * TransportError(TRANSPORT_PARAMETER_ERROR). Unknown parameters are ignored (RFC 9000 §7.4.2).
 */
export function decodeTransportParameters(bytes: Uint8Array, senderRole: Role): TransportParameters {
  const tp = defaultTransportParameters();
  const r = new BufferReader(bytes, 0, bytes.length, TransportErrorCode.TRANSPORT_PARAMETER_ERROR);
  const seen = new Set<number>();
  const fromClient = senderRole === 'client';
  while (!r.done) {
    const id = r.varint();
    const v = r.sub(r.varint());
    // RFC 9000 §7.4: duplicate parameters SHOULD be a TRANSPORT_PARAMETER_ERROR.
    if (seen.has(id)) tpError(`duplicate transport parameter 0x${id.toString(16)}`);
    seen.add(id);
    switch (id) {
      case ID.ORIGINAL_DESTINATION_CONNECTION_ID:
      case ID.STATELESS_RESET_TOKEN:
      case ID.PREFERRED_ADDRESS:
      case ID.RETRY_SOURCE_CONNECTION_ID:
        // RFC 9000 §18.2: a server MUST reject server-only parameters sent by a client.
        if (fromClient) tpError(`client sent server-only parameter 0x${id.toString(16)}`);
        if (id === ID.ORIGINAL_DESTINATION_CONNECTION_ID) {
          tp.originalDestinationConnectionId = cidValue(v, 'original_destination_connection_id');
        } else if (id === ID.STATELESS_RESET_TOKEN) {
          if (v.remaining !== 16) tpError('stateless_reset_token must be 16 octets');
          tp.statelessResetToken = v.copy(16);
        } else if (id === ID.PREFERRED_ADDRESS) {
          tp.preferredAddress = preferredAddressValue(v);
        } else {
          tp.retrySourceConnectionId = cidValue(v, 'retry_source_connection_id');
        }
        break;
      case ID.MAX_IDLE_TIMEOUT:
        tp.maxIdleTimeout = intValue(v);
        break;
      case ID.MAX_UDP_PAYLOAD_SIZE:
        tp.maxUdpPayloadSize = intValue(v);
        // RFC 9000 §18.2: values below 1200 are invalid.
        if (tp.maxUdpPayloadSize < MIN_MAX_UDP_PAYLOAD_SIZE) tpError('max_udp_payload_size below 1200');
        break;
      case ID.INITIAL_MAX_DATA:
        tp.initialMaxData = intValue(v);
        break;
      case ID.INITIAL_MAX_STREAM_DATA_BIDI_LOCAL:
        tp.initialMaxStreamDataBidiLocal = intValue(v);
        break;
      case ID.INITIAL_MAX_STREAM_DATA_BIDI_REMOTE:
        tp.initialMaxStreamDataBidiRemote = intValue(v);
        break;
      case ID.INITIAL_MAX_STREAM_DATA_UNI:
        tp.initialMaxStreamDataUni = intValue(v);
        break;
      case ID.INITIAL_MAX_STREAMS_BIDI:
        tp.initialMaxStreamsBidi = streamsValue(v);
        break;
      case ID.INITIAL_MAX_STREAMS_UNI:
        tp.initialMaxStreamsUni = streamsValue(v);
        break;
      case ID.ACK_DELAY_EXPONENT:
        tp.ackDelayExponent = intValue(v);
        // RFC 9000 §18.2: values above 20 are invalid.
        if (tp.ackDelayExponent > MAX_ACK_DELAY_EXPONENT) tpError('ack_delay_exponent above 20');
        break;
      case ID.MAX_ACK_DELAY:
        tp.maxAckDelay = intValue(v);
        // RFC 9000 §18.2: values of 2^14 or greater are invalid.
        if (tp.maxAckDelay > MAX_MAX_ACK_DELAY) tpError('max_ack_delay of 2^14 or more');
        break;
      case ID.DISABLE_ACTIVE_MIGRATION:
        // RFC 9000 §18.2: a zero-length value.
        if (!v.done) tpError('disable_active_migration with a value');
        tp.disableActiveMigration = true;
        break;
      case ID.ACTIVE_CONNECTION_ID_LIMIT:
        tp.activeConnectionIdLimit = intValue(v);
        // RFC 9000 §18.2: a value below 2 MUST be a TRANSPORT_PARAMETER_ERROR.
        if (tp.activeConnectionIdLimit < 2) tpError('active_connection_id_limit below 2');
        break;
      case ID.INITIAL_SOURCE_CONNECTION_ID:
        tp.initialSourceConnectionId = cidValue(v, 'initial_source_connection_id');
        break;
      case ID.VERSION_INFORMATION:
        tp.versionInformation = versionInformationValue(v, senderRole);
        break;
      case ID.MAX_DATAGRAM_FRAME_SIZE:
        tp.maxDatagramFrameSize = intValue(v);
        break;
      case ID.GREASE_QUIC_BIT:
        // RFC 9287 §3: a non-empty value MUST be a TRANSPORT_PARAMETER_ERROR.
        if (!v.done) tpError('grease_quic_bit with a value');
        tp.greaseQuicBit = true;
        break;
      default:
        // RFC 9000 §7.4.2: unknown parameters MUST be ignored.
        break;
    }
  }
  return tp;
}

export interface ExpectedConnectionIds {
  /** Client: the Destination Connection ID of its first Initial (unused by servers). */
  originalDestinationConnectionId?: Uint8Array | undefined;
  /** The Source Connection ID the peer used in its Initial packets. */
  initialSourceConnectionId: Uint8Array;
  /** Client: the Source Connection ID of the Retry it processed; undefined if none. */
  retrySourceConnectionId?: Uint8Array | undefined;
}

/**
 * RFC 9000 §7.3: checks the peer's connection ID parameters against the values used in Initial and
 * Retry packets. `role` is the role of the validating (local) endpoint, so 'client' validates
 * server parameters. Throws TransportError(TRANSPORT_PARAMETER_ERROR) on absence, mismatch or a
 * retry_source_connection_id without Retry.
 */
export function validateConnectionIdParameters(
  tp: TransportParameters,
  expected: ExpectedConnectionIds,
  role: Role,
): void {
  // RFC 9000 §7.3: absence of initial_source_connection_id MUST be an error; values MUST match.
  if (!tp.initialSourceConnectionId) tpError('missing initial_source_connection_id');
  if (!equalBytes(tp.initialSourceConnectionId, expected.initialSourceConnectionId)) {
    tpError('initial_source_connection_id mismatch');
  }
  if (role === 'server') {
    // Client parameters: server-only ones are already rejected by decodeTransportParameters.
    if (tp.originalDestinationConnectionId || tp.retrySourceConnectionId)
      tpError('client sent server-only parameter');
    return;
  }
  // RFC 9000 §7.3: the server's original_destination_connection_id MUST be present and match.
  if (!tp.originalDestinationConnectionId) tpError('missing original_destination_connection_id');
  if (
    expected.originalDestinationConnectionId &&
    !equalBytes(tp.originalDestinationConnectionId, expected.originalDestinationConnectionId)
  ) {
    tpError('original_destination_connection_id mismatch');
  }
  if (expected.retrySourceConnectionId) {
    // RFC 9000 §7.3: after a Retry, retry_source_connection_id MUST be present and match.
    if (!tp.retrySourceConnectionId) tpError('missing retry_source_connection_id');
    if (!equalBytes(tp.retrySourceConnectionId, expected.retrySourceConnectionId)) {
      tpError('retry_source_connection_id mismatch');
    }
  } else if (tp.retrySourceConnectionId) {
    // RFC 9000 §7.3: retry_source_connection_id without a Retry MUST be an error.
    tpError('retry_source_connection_id without Retry');
  }
}
