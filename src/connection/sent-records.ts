// What a sent packet carried, so acknowledgements and losses can be routed back to the
// component that owns each frame (RFC 9000 §13.3: retransmit information, not packets).
import type { Level, Space } from '../common/levels.js';
import type { Instant } from '../common/time.js';
import type { CidRecord } from '../paths/local-cids.js';
import type { SentPacket } from '../recovery/loss-detection.js';
import type { StreamRecord } from '../streams/stream-manager.js';

export interface CryptoRecord {
  readonly level: Level;
  readonly offset: number;
  readonly length: number;
}

/**
 * Per-packet record; arrays are created only when the packet carries such frames. It is also
 * the packet's loss-detection entry (`frames` is itself): one object per sent packet.
 */
export class SentRecords implements SentPacket<SentRecords> {
  pn = 0;
  timeSent: Instant = 0;
  size = 0;
  ackEliciting = false;
  inFlight = false;
  pathId = 0;
  isMtuProbe = false;
  readonly frames: SentRecords;
  /** The first stream-layer frame record (most packets carry one), the others in `streams`. */
  stream: StreamRecord | null = null;
  streams: StreamRecord[] | null = null;
  localCids: CidRecord[] | null = null;
  remoteCids: CidRecord[] | null = null;
  crypto: CryptoRecord[] | null = null;
  newTokens: Uint8Array[] | null = null;
  /** Largest packet number acknowledged by an ACK frame in this packet (RFC 9000 §13.2.4), or -1. */
  ackLargest = -1;
  ackSpace: Space = 0;
  handshakeDone = false;
  /** PMTU probe of this size (0 = not a probe). */
  mtuProbe = 0;
  /** 1-RTT key phase generation the packet was sealed with (-1 = not 1-RTT). */
  keyGeneration = -1;
  /** Sent in 0-RTT (lost wholesale if 0-RTT is rejected). */
  zeroRtt = false;
  /** Sent with an ECT(0) mark (RFC 9000 §13.4.2). */
  ecnMarked = false;

  constructor() {
    this.frames = this;
  }

  /** Takes the stream-layer records written into the packet (without keeping `list`). */
  addStreamRecords(list: readonly StreamRecord[]): void {
    let i = 0;
    if (this.stream === null && list.length > 0) this.stream = list[i++]!;
    if (i < list.length) {
      const more = (this.streams ??= []);
      for (; i < list.length; i++) more.push(list[i]!);
    }
  }
}
