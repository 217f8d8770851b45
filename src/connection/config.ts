// Connection configuration: transport parameters we advertise and local policies.
import type { Random } from '../common/random.js';
import { cryptoRandom } from '../common/random.js';
import { type Duration, ms, seconds } from '../common/time.js';
import type { CongestionAlgorithm } from '../recovery/congestion.js';

export type PreferredAddressPolicy = 'follow' | 'ignore';

/** Knobs shared by client and server connections. All durations in microseconds. */
export interface TransportConfig {
  /** Idle timeout we advertise (RFC 9000 §10.1); 0 disables ours. */
  maxIdleTimeout: Duration;
  /** Send a PING when idle for this long (0 = never). Keeps NAT bindings and the idle timer alive. */
  keepAliveInterval: Duration;
  initialMaxData: number;
  initialMaxStreamDataBidiLocal: number;
  initialMaxStreamDataBidiRemote: number;
  initialMaxStreamDataUni: number;
  initialMaxStreamsBidi: number;
  initialMaxStreamsUni: number;
  /** Upper bounds for flow-control window auto-tuning. */
  maxConnectionWindow: number;
  maxStreamWindow: number;
  /** Bytes the app may queue per stream before `write` pushes back. */
  sendBufferLimit: number;
  ackDelayExponent: number;
  /** max_ack_delay we advertise (µs). */
  maxAckDelay: Duration;
  /**
   * Ack-eliciting packets per immediate ACK once a connection carries bulk data (after
   * `ackDecimationAfter` packets). RFC 9000 §13.2.2 recommends 2 (SHOULD); a higher value halves
   * (or better) the ACK traffic and its crypto cost, as Chrome's ack decimation does. ACKs still
   * go out within max_ack_delay and at once on reordering or loss. 2 = strict RFC behaviour.
   */
  ackElicitingThreshold: number;
  /** Ack-eliciting packets received in the application space before `ackElicitingThreshold` applies. */
  ackDecimationAfter: number;
  /** active_connection_id_limit we advertise (≥ 2). */
  activeConnectionIdLimit: number;
  /** Largest UDP payload we accept (max_udp_payload_size) and the DPLPMTUD ceiling. */
  maxUdpPayloadSize: number;
  /** Datagram size before PMTU discovery (≥ 1200). */
  initialMtu: number;
  /** Enable DPLPMTUD probing above initialMtu (RFC 8899). */
  mtuDiscovery: boolean;
  disableActiveMigration: boolean;
  /** RFC 9221: largest DATAGRAM frame we accept; 0 = DATAGRAM not supported. */
  maxDatagramFrameSize: number;
  congestionControl: CongestionAlgorithm;
  /** Client: follow a server's preferred_address after the handshake (RFC 9000 §9.6). */
  preferredAddressPolicy: PreferredAddressPolicy;
  /** Initiate a 1-RTT key update after this many packets sent in one key phase (0 = only at AEAD limits). */
  keyUpdateInterval: number;
  /** Maximum number of network paths tracked per connection (active + probing + old). */
  maxPaths: number;
  /** Paths with no traffic for this long (and not active) are forgotten. */
  pathIdleTimeout: Duration;
  /** Grease the QUIC bit (RFC 9287). */
  greaseQuicBit: boolean;
}

export const defaultTransportConfig: Readonly<TransportConfig> = Object.freeze({
  maxIdleTimeout: seconds(30),
  keepAliveInterval: 0,
  initialMaxData: 8 * 1024 * 1024,
  initialMaxStreamDataBidiLocal: 6 * 1024 * 1024,
  initialMaxStreamDataBidiRemote: 1024 * 1024,
  initialMaxStreamDataUni: 1024 * 1024,
  initialMaxStreamsBidi: 100,
  initialMaxStreamsUni: 100,
  maxConnectionWindow: 24 * 1024 * 1024,
  maxStreamWindow: 16 * 1024 * 1024,
  sendBufferLimit: 4 * 1024 * 1024,
  ackDelayExponent: 3,
  maxAckDelay: ms(25),
  ackElicitingThreshold: 10,
  ackDecimationAfter: 100,
  activeConnectionIdLimit: 4,
  maxUdpPayloadSize: 1452,
  initialMtu: 1200,
  mtuDiscovery: true,
  disableActiveMigration: false,
  maxDatagramFrameSize: 65527,
  congestionControl: 'cubic',
  preferredAddressPolicy: 'follow',
  keyUpdateInterval: 0,
  maxPaths: 4,
  pathIdleTimeout: seconds(10),
  greaseQuicBit: false,
});

export function resolveTransportConfig(partial: Partial<TransportConfig> | undefined): TransportConfig {
  const c = { ...defaultTransportConfig, ...(partial ?? {}) };
  if (c.initialMtu < 1200) throw new RangeError('initialMtu must be at least 1200 (RFC 9000 §14)');
  if (c.maxUdpPayloadSize < 1200)
    throw new RangeError('maxUdpPayloadSize must be at least 1200 (RFC 9000 §18.2)');
  if (c.activeConnectionIdLimit < 2) throw new RangeError('activeConnectionIdLimit must be at least 2');
  if (c.ackDelayExponent > 20) throw new RangeError('ackDelayExponent must be at most 20');
  if (c.maxAckDelay >= seconds(16.384)) throw new RangeError('maxAckDelay must be below 2^14 ms');
  if (c.maxPaths < 2) throw new RangeError('maxPaths must be at least 2');
  return c;
}

export interface RandomSource {
  random?: Random;
}

export const defaultRandom = cryptoRandom;
