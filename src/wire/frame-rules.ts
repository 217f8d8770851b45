// RFC 9000 §12.4 Table 3 (plus DATAGRAM, RFC 9221) as data: which packet types may carry each
// frame type and the N/C/P/F properties, as typed arrays indexed by the wire frame type.
import type { PacketType } from './header.js';

/** One bit per packet type, for FRAME_PACKET_MASK. */
export const PacketTypeBit = {
  initial: 0x01,
  '0rtt': 0x02,
  handshake: 0x04,
  '1rtt': 0x08,
} as const satisfies Record<PacketType, number>;

/** Property bits, for FRAME_FLAGS. */
export const FrameFlag = {
  /** The type is understood by this stack. */
  KNOWN: 0x01,
  /** Not marked N: a packet containing it is ack-eliciting (RFC 9000 §13.2). */
  ACK_ELICITING: 0x02,
  /** Marked P: may be sent on a path being probed (RFC 9000 §9.1). */
  PROBING: 0x04,
  /** Not marked C: counts toward bytes in flight (RFC 9002). */
  CONGESTION_CONTROLLED: 0x08,
  /** Marked F: contents are flow controlled (RFC 9000 §4). */
  FLOW_CONTROLLED: 0x10,
} as const;

const I = PacketTypeBit.initial;
const Z = PacketTypeBit['0rtt'];
const H = PacketTypeBit.handshake;
const O = PacketTypeBit['1rtt'];
const { KNOWN, ACK_ELICITING, PROBING, CONGESTION_CONTROLLED, FLOW_CONTROLLED } = FrameFlag;
/** Default for frames with an empty "Spec" column. */
const EC = KNOWN | ACK_ELICITING | CONGESTION_CONTROLLED;

/** Packet types (PacketTypeBit mask) allowed per wire frame type; 0 for unknown types. */
export const FRAME_PACKET_MASK = new Uint8Array(0x40);
/** FrameFlag bits per wire frame type; 0 for unknown types. */
export const FRAME_FLAGS = new Uint8Array(0x40);

function rule(first: number, last: number, packets: number, flags: number): void {
  for (let t = first; t <= last; t++) {
    FRAME_PACKET_MASK[t] = packets;
    FRAME_FLAGS[t] = flags;
  }
}

// RFC 9000 §12.4 Table 3 ("Pkts" / "Spec" columns).
rule(0x00, 0x00, I | H | Z | O, KNOWN | PROBING | CONGESTION_CONTROLLED); // PADDING: IH01, NP
rule(0x01, 0x01, I | H | Z | O, EC); // PING: IH01
rule(0x02, 0x03, I | H | O, KNOWN); // ACK: IH_1, NC
rule(0x04, 0x05, Z | O, EC); // RESET_STREAM, STOP_SENDING: __01
rule(0x06, 0x06, I | H | O, EC); // CRYPTO: IH_1
rule(0x07, 0x07, O, EC); // NEW_TOKEN: ___1
rule(0x08, 0x0f, Z | O, EC | FLOW_CONTROLLED); // STREAM: __01, F
rule(0x10, 0x17, Z | O, EC); // MAX_DATA .. STREAMS_BLOCKED: __01
rule(0x18, 0x18, Z | O, EC | PROBING); // NEW_CONNECTION_ID: __01, P
// RETIRE_CONNECTION_ID: __01. §12.5 notes it cannot really be sent in 0-RTT (a server MAY reject it
// there); the table allows it, so the connection decides.
rule(0x19, 0x19, Z | O, EC);
rule(0x1a, 0x1a, Z | O, EC | PROBING); // PATH_CHALLENGE: __01, P
rule(0x1b, 0x1b, O, EC | PROBING); // PATH_RESPONSE: ___1, P
// CONNECTION_CLOSE: ih01, N. Only type 0x1c may appear in Initial/Handshake (§12.4, §12.5).
rule(0x1c, 0x1c, I | H | Z | O, KNOWN | CONGESTION_CONTROLLED);
rule(0x1d, 0x1d, Z | O, KNOWN | CONGESTION_CONTROLLED);
rule(0x1e, 0x1e, O, EC); // HANDSHAKE_DONE: ___1
// DATAGRAM (RFC 9221 §5): 0-RTT/1-RTT only, ack-eliciting (§5.2), congestion controlled (§5.4),
// not flow controlled.
rule(0x30, 0x31, Z | O, EC);

/** RFC 9000 §12.4: may a frame of this wire type appear in this packet type? False if unknown. */
export function isFrameAllowed(wireType: number, packetType: PacketType): boolean {
  return wireType < 0x40 && (FRAME_PACKET_MASK[wireType]! & PacketTypeBit[packetType]) !== 0;
}

/** Frames not marked N make their packet ack-eliciting (RFC 9000 §13.2, §12.4). */
export function isAckEliciting(wireType: number): boolean {
  return wireType < 0x40 && (FRAME_FLAGS[wireType]! & ACK_ELICITING) !== 0;
}

/** Probing frames (RFC 9000 §9.1): PATH_CHALLENGE, PATH_RESPONSE, NEW_CONNECTION_ID, PADDING. */
export function isProbing(wireType: number): boolean {
  return wireType < 0x40 && (FRAME_FLAGS[wireType]! & PROBING) !== 0;
}

/** Frames not marked C count toward bytes in flight (RFC 9000 §12.4, RFC 9002 §2). */
export function isCongestionControlled(wireType: number): boolean {
  return wireType < 0x40 && (FRAME_FLAGS[wireType]! & CONGESTION_CONTROLLED) !== 0;
}

/** Frames marked F are flow controlled (RFC 9000 §4). */
export function isFlowControlled(wireType: number): boolean {
  return wireType < 0x40 && (FRAME_FLAGS[wireType]! & FLOW_CONTROLLED) !== 0;
}
