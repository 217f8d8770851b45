// The connection IDs we issue (the peer sends to them): sequence numbers, NEW_CONNECTION_ID
// issuance and retransmission, RETIRE_CONNECTION_ID handling and rotation (RFC 9000 §5.1).
import { equalBytes, hex } from '../common/bytes.js';
import { TransportError, TransportErrorCode } from '../common/errors.js';
import type { ConnectionIdGenerator } from '../endpoint/cid-generator.js';
import { encodeFrame, type Frame, FrameType, frameEncodedLength } from '../wire/frames.js';
import type { BufferWriter } from '../wire/writer.js';

/** What a sent packet carried, for onAcked/onLost (shared by LocalCids and RemoteCids). */
export interface CidRecord {
  readonly type: 'new_connection_id' | 'retire_connection_id';
  readonly sequence: number;
}

export type LocalCidEvent =
  /** Route packets with this DCID to the connection (emitted for every CID, including seq 0 and 1). */
  | {
      readonly type: 'issued';
      readonly cid: Uint8Array;
      readonly sequence: number;
      readonly resetToken: Uint8Array;
    }
  /** The peer retired this CID: stop routing it. */
  | { readonly type: 'retired'; readonly cid: Uint8Array; readonly sequence: number };

export interface LocalCidsOptions {
  generator: ConnectionIdGenerator;
  /** Stateless reset token of a CID (RFC 9000 §10.3.2). */
  resetTokenFor: (cid: Uint8Array) => Uint8Array;
  /** Our handshake Source Connection ID: sequence 0 (RFC 9000 §5.1.1). */
  initialCid: Uint8Array;
  /** Server: the CID sent in preferred_address, sequence 1 (RFC 9000 §5.1.1, §9.6.1). */
  preferredAddressCid?: Uint8Array;
  /** Most CIDs we keep active at once, whatever the peer allows (default 8). */
  maxActive?: number;
}

export interface LocalCidStats {
  /** CIDs issued, including sequence 0 (and 1 with a preferred address). */
  readonly issued: number;
  /** CIDs the peer retired. */
  readonly retired: number;
  /** CIDs issued and not yet retired by the peer. */
  readonly active: number;
}

// State of an entry's NEW_CONNECTION_ID frame.
const NONE = 0; // seq 0 / preferred address: never sent in a frame
const PENDING = 1;
const SENT = 2;
const ACKED = 3;

interface Entry {
  readonly sequence: number;
  readonly cid: Uint8Array;
  readonly resetToken: Uint8Array;
  /** Retire Prior To when issued; every (re)transmission carries this value. */
  readonly retirePriorTo: number;
  frame: number;
  everSent: boolean;
}

export const DEFAULT_MAX_ACTIVE_CIDS = 8;
/** Recently issued CIDs remembered to guarantee a generator never repeats one (§5.1). */
const HISTORY = 256;
const { PROTOCOL_VIOLATION, INTERNAL_ERROR } = TransportErrorCode;

export class LocalCids {
  readonly #generator: ConnectionIdGenerator;
  readonly #resetTokenFor: (cid: Uint8Array) => Uint8Array;
  readonly #maxActive: number;
  readonly #zeroLength: boolean;
  /** Issued and not retired by the peer, in sequence order. */
  readonly #active = new Map<number, Entry>();
  #nextSeq = 0;
  #retirePriorTo = 0;
  #target = 0;
  #rotatePending = false;
  readonly #queue: number[] = [];
  #queueHead = 0;
  readonly #events: LocalCidEvent[] = [];
  #eventHead = 0;
  readonly #history = new Set<string>();
  readonly #historyOrder: string[] = [];
  #issued = 0;
  #retired = 0;

  constructor(options: LocalCidsOptions) {
    this.#generator = options.generator;
    this.#resetTokenFor = options.resetTokenFor;
    this.#maxActive = Math.max(2, options.maxActive ?? DEFAULT_MAX_ACTIVE_CIDS);
    this.#zeroLength = options.initialCid.length === 0;
    this.#add(options.initialCid, NONE);
    if (options.preferredAddressCid) {
      if (this.#zeroLength || options.preferredAddressCid.length === 0) {
        // RFC 9000 §18.2: no preferred address with zero-length CIDs.
        throw new RangeError('a preferred address needs non-zero-length connection IDs');
      }
      this.#add(options.preferredAddressCid, NONE);
    }
  }

  /** We use zero-length CIDs: no NEW_CONNECTION_ID is ever sent (RFC 9000 §5.1.1). */
  get zeroLength(): boolean {
    return this.#zeroLength;
  }

  /** Current Retire Prior To value. */
  get retirePriorTo(): number {
    return this.#retirePriorTo;
  }

  /** Next sequence number to issue. */
  get nextSequence(): number {
    return this.#nextSeq;
  }

  /** Number of CIDs issued and not retired by the peer. */
  get activeCount(): number {
    return this.#active.size;
  }

  get stats(): LocalCidStats {
    return { issued: this.#issued, retired: this.#retired, active: this.#active.size };
  }

  /** Sequence number of an active CID of ours, or undefined. */
  lookup(cid: Uint8Array): number | undefined {
    for (const e of this.#active.values()) if (equalBytes(e.cid, cid)) return e.sequence;
    return undefined;
  }

  /** CID and reset token of an active sequence number. */
  get(sequence: number): { readonly cid: Uint8Array; readonly resetToken: Uint8Array } | undefined {
    return this.#active.get(sequence);
  }

  /** Active CIDs in sequence order (e.g. to unregister them all when the connection ends). */
  *active(): IterableIterator<{ readonly sequence: number; readonly cid: Uint8Array }> {
    yield* this.#active.values();
  }

  /**
   * The peer's active_connection_id_limit (RFC 9000 §18.2): from now on keep min(limit, our cap)
   * CIDs active. Ignored with zero-length CIDs (§18.2).
   */
  setPeerActiveLimit(limit: number): void {
    if (this.#zeroLength) return;
    // A generator whose CIDs must not multiply (QUIC-LB plaintext/unroutable): no NEW_CONNECTION_ID.
    if (this.#generator.sendNewConnectionIds === false) return;
    // RFC 9000 §5.1.1: never provide more connection IDs than the peer's limit.
    this.#target = Math.max(0, Math.min(limit, this.#maxActive));
    this.#replenish();
  }

  /**
   * RETIRE_CONNECTION_ID received (RFC 9000 §19.16) in a packet sent to `packetDcid`.
   * Issues a replacement (§5.1.1 SHOULD).
   */
  onRetireConnectionId(sequence: number, packetDcid: Uint8Array): void {
    const ft = FrameType.RETIRE_CONNECTION_ID;
    // RFC 9000 §19.16: with zero-length CIDs, RETIRE_CONNECTION_ID MUST be a PROTOCOL_VIOLATION.
    if (this.#zeroLength)
      throw new TransportError(PROTOCOL_VIOLATION, 'RETIRE_CONNECTION_ID with zero-length CIDs', ft);
    // RFC 9000 §19.16: a sequence number never sent MUST be a PROTOCOL_VIOLATION.
    if (sequence >= this.#nextSeq)
      throw new TransportError(PROTOCOL_VIOLATION, 'retired a CID never issued', ft);
    const e = this.#active.get(sequence);
    if (!e) return; // already retired
    // RFC 9000 §19.16: it MUST NOT refer to the DCID of the packet carrying it (we treat it as an error).
    if (equalBytes(e.cid, packetDcid)) {
      throw new TransportError(PROTOCOL_VIOLATION, 'RETIRE_CONNECTION_ID retires its own packet DCID', ft);
    }
    this.#retire(e);
    if (this.#rotatePending && !this.#rotationInProgress()) {
      this.#rotatePending = false;
      this.#rotateNow();
    }
    this.#replenish();
  }

  /**
   * Replaces every active CID: issues fresh ones and raises Retire Prior To past all older ones
   * (RFC 9000 §5.1.2), e.g. when a CID lifetime expires or after a migration. If the previous
   * rotation is still waiting for RETIREs, this one starts when they are all in (§5.1.2 SHOULD
   * NOT raise Retire Prior To earlier). No-op with zero-length CIDs or before the peer's limit is known.
   */
  rotate(): void {
    if (this.#zeroLength || this.#target === 0) return;
    if (this.#rotationInProgress()) {
      this.#rotatePending = true;
      return;
    }
    this.#rotateNow();
  }

  /** A rotation is waiting for the peer to retire the CIDs below Retire Prior To. */
  get rotating(): boolean {
    return this.#rotationInProgress() || this.#rotatePending;
  }

  hasPendingFrames(): boolean {
    const q = this.#queue;
    while (this.#queueHead < q.length) {
      const e = this.#active.get(q[this.#queueHead]!);
      if (e && e.frame === PENDING) return true;
      this.#queueHead++;
    }
    q.length = 0;
    this.#queueHead = 0;
    return false;
  }

  /**
   * Writes pending NEW_CONNECTION_ID frames that fit in `w`, appending one record per frame.
   * Returns the number of frames written.
   */
  writeFrames(w: BufferWriter, records: CidRecord[]): number {
    let n = 0;
    const q = this.#queue;
    while (this.#queueHead < q.length) {
      const seq = q[this.#queueHead]!;
      const e = this.#active.get(seq);
      if (!e || e.frame !== PENDING) {
        this.#queueHead++;
        continue;
      }
      const f: Frame = {
        type: 'new_connection_id',
        sequence: seq,
        // The value current when the CID was issued (≤ seq, §19.15). A re-sent CID that is now
        // below Retire Prior To must not raise the peer's Retire Prior To by itself: the frames
        // that raise it each bring a fresh CID, so the peer is never left without one (§5.1.2).
        retirePriorTo: e.retirePriorTo,
        connectionId: e.cid,
        resetToken: e.resetToken,
      };
      if (frameEncodedLength(f) > w.remaining) break;
      encodeFrame(w, f);
      e.frame = SENT;
      e.everSent = true;
      records.push({ type: 'new_connection_id', sequence: seq });
      this.#queueHead++;
      n++;
    }
    if (this.#queueHead === q.length) {
      q.length = 0;
      this.#queueHead = 0;
    }
    return n;
  }

  onAcked(r: CidRecord): void {
    if (r.type !== 'new_connection_id') return;
    const e = this.#active.get(r.sequence);
    if (e) e.frame = ACKED;
  }

  /** Retransmits a lost NEW_CONNECTION_ID unless the CID was retired since (RFC 9000 §13.3). */
  onLost(r: CidRecord): void {
    if (r.type !== 'new_connection_id') return;
    const e = this.#active.get(r.sequence);
    if (e && e.frame === SENT) {
      e.frame = PENDING;
      this.#queue.push(e.sequence);
    }
  }

  pollEvent(): LocalCidEvent | undefined {
    if (this.#eventHead >= this.#events.length) return undefined;
    const ev = this.#events[this.#eventHead++]!;
    if (this.#eventHead === this.#events.length) {
      this.#events.length = 0;
      this.#eventHead = 0;
    }
    return ev;
  }

  #rotationInProgress(): boolean {
    for (const seq of this.#active.keys()) if (seq < this.#retirePriorTo) return true;
    return false;
  }

  #rotateNow(): void {
    this.#retirePriorTo = this.#nextSeq;
    // CIDs whose NEW_CONNECTION_ID never left cannot be known to the peer: drop them now.
    for (const e of this.#active.values()) {
      if (e.sequence < this.#retirePriorTo && e.frame !== NONE && !e.everSent) this.#retire(e);
    }
    // RFC 9000 §5.1.1: exceeding the peer's limit is allowed when Retire Prior To retires the excess.
    for (let i = 0; i < this.#target; i++) this.#issue();
  }

  #replenish(): void {
    while (this.#active.size < this.#target) this.#issue();
  }

  #issue(): void {
    let cid: Uint8Array | undefined;
    // RFC 9000 §5.1: the same CID MUST NOT be issued twice on a connection.
    for (let attempt = 0; attempt < 8 && !cid; attempt++) {
      const c = this.#generator.generate();
      if (c.length > 0 && !this.#history.has(hex(c)) && this.lookup(c) === undefined) cid = c;
    }
    if (!cid) throw new TransportError(INTERNAL_ERROR, 'connection ID generator keeps repeating itself');
    this.#add(cid, PENDING);
  }

  #add(cid: Uint8Array, frame: number): void {
    const sequence = this.#nextSeq++;
    // A zero-length CID has no stateless reset token (RFC 9000 §10.3: none can be sent for it).
    const resetToken = cid.length > 0 ? this.#resetTokenFor(cid) : new Uint8Array(16);
    this.#active.set(sequence, {
      sequence,
      cid,
      resetToken,
      retirePriorTo: this.#retirePriorTo,
      frame,
      everSent: false,
    });
    this.#issued++;
    if (frame === PENDING) this.#queue.push(sequence);
    const key = hex(cid);
    if (!this.#history.has(key)) {
      this.#history.add(key);
      this.#historyOrder.push(key);
      if (this.#historyOrder.length > HISTORY) this.#history.delete(this.#historyOrder.shift()!);
    }
    this.#events.push({ type: 'issued', cid, sequence, resetToken });
  }

  #retire(e: Entry): void {
    this.#active.delete(e.sequence);
    this.#retired++;
    this.#events.push({ type: 'retired', cid: e.cid, sequence: e.sequence });
  }
}
