// The connection IDs the peer issued (we send to them): NEW_CONNECTION_ID processing, binding
// CIDs to paths, retirement with RETIRE_CONNECTION_ID and stateless reset tokens
// (RFC 9000 §5.1, §9.5, §10.3, §19.15, §19.16).
import { constantTimeEqual, equalBytes } from '../common/bytes.js';
import { TransportError, TransportErrorCode } from '../common/errors.js';
import { RangeSet } from '../connection/range-set.js';
import { encodeFrame, type Frame, FrameType, frameEncodedLength } from '../wire/frames.js';
import type { BufferWriter } from '../wire/writer.js';
import type { CidRecord } from './local-cids.js';

export type RemoteCidEvent =
  /** A CID with this stateless reset token is now in use: datagrams ending in it are resets. */
  | { readonly type: 'active-token'; readonly token: Uint8Array }
  /** That CID was retired: stop matching its token (RFC 9000 §10.3.1). */
  | { readonly type: 'retired-token'; readonly token: Uint8Array };

export interface RemoteCidsOptions {
  /** The peer's handshake Source Connection ID: sequence 0. */
  initialCid: Uint8Array;
  /** The server's stateless_reset_token transport parameter (client side). */
  initialResetToken?: Uint8Array;
  /** Our active_connection_id_limit (RFC 9000 §18.2, ≥ 2). */
  activeLimit: number;
  /** RETIRE_CONNECTION_IDs we track unacknowledged before CONNECTION_ID_LIMIT_ERROR (§5.1.2). */
  maxPendingRetires?: number;
}

export interface RemoteCidBinding {
  readonly sequence: number;
  readonly cid: Uint8Array;
}

export interface RemoteCidStats {
  /** CIDs received (handshake, preferred address, NEW_CONNECTION_ID). */
  readonly received: number;
  /** CIDs we retired. */
  readonly retired: number;
  /** CIDs held and not retired. */
  readonly active: number;
  /** Held CIDs never used on any path. */
  readonly unused: number;
}

interface Entry {
  readonly sequence: number;
  readonly cid: Uint8Array;
  resetToken: Uint8Array | undefined;
  /** Path currently using it. */
  pathId: number | undefined;
  /** Was ever bound to a path (§9.5: never reused on another one). */
  used: boolean;
}

const PENDING = 1;
const SENT = 2;
const NO_PATHS: readonly number[] = Object.freeze([]);
const { PROTOCOL_VIOLATION, CONNECTION_ID_LIMIT_ERROR, TRANSPORT_PARAMETER_ERROR, FRAME_ENCODING_ERROR } =
  TransportErrorCode;

export class RemoteCids {
  readonly activeLimit: number;
  readonly #zeroLength: boolean;
  readonly #maxPendingRetires: number;
  /** CIDs held and not retired, by sequence. */
  readonly #entries = new Map<number, Entry>();
  readonly #paths = new Map<number, Entry>();
  /** Sequence numbers retired at or above the floor; everything below the floor counts as retired. */
  readonly #retired = new RangeSet(64);
  /** Largest Retire Prior To received. */
  #retirePriorTo = 0;
  /** RETIRE_CONNECTION_ID frames not yet acknowledged: sequence → PENDING | SENT. */
  readonly #retireState = new Map<number, number>();
  readonly #queue: number[] = [];
  #queueHead = 0;
  readonly #events: RemoteCidEvent[] = [];
  #eventHead = 0;
  #received = 0;
  #retiredCount = 0;

  constructor(options: RemoteCidsOptions) {
    this.activeLimit = options.activeLimit;
    this.#zeroLength = options.initialCid.length === 0;
    this.#maxPendingRetires = options.maxPendingRetires ?? Math.max(4 * options.activeLimit, 32);
    this.#entries.set(0, {
      sequence: 0,
      cid: new Uint8Array(options.initialCid),
      resetToken: options.initialResetToken?.slice(),
      pathId: undefined,
      used: false,
    });
    this.#received = 1;
  }

  /** The peer uses zero-length CIDs: every path sends an empty DCID (RFC 9000 §5.1.1). */
  get zeroLength(): boolean {
    return this.#zeroLength;
  }

  /** Largest Retire Prior To received. */
  get retirePriorTo(): number {
    return this.#retirePriorTo;
  }

  /** CIDs held, not retired and never used on a path. */
  get unusedCount(): number {
    let n = 0;
    for (const e of this.#entries.values()) if (!e.used) n++;
    return n;
  }

  /** CIDs held and not retired. */
  get activeCount(): number {
    return this.#entries.size;
  }

  get stats(): RemoteCidStats {
    return {
      received: this.#received,
      retired: this.#retiredCount,
      active: this.#entries.size,
      unused: this.unusedCount,
    };
  }

  /** The server's stateless_reset_token transport parameter, once known (client side). */
  setInitialResetToken(token: Uint8Array): void {
    const e = this.#entries.get(0);
    if (!e || e.resetToken) return;
    e.resetToken = new Uint8Array(token);
    if (e.used) this.#events.push({ type: 'active-token', token: e.resetToken });
  }

  /**
   * The CID of the server's preferred_address transport parameter: sequence 1
   * (RFC 9000 §5.1.1, §9.6.1).
   */
  setPreferredAddressCid(cid: Uint8Array, resetToken: Uint8Array): void {
    // RFC 9000 §18.2: no preferred address with zero-length CIDs, and no zero-length CID in it.
    if (this.#zeroLength || cid.length === 0) {
      throw new TransportError(
        TRANSPORT_PARAMETER_ERROR,
        'preferred_address with a zero-length connection ID',
      );
    }
    const known = this.#entries.get(1);
    if (known) {
      if (equalBytes(known.cid, cid) && known.resetToken && equalBytes(known.resetToken, resetToken)) return;
      throw new TransportError(PROTOCOL_VIOLATION, 'preferred_address conflicts with sequence 1');
    }
    if (this.#isRetired(1)) return;
    for (const e of this.#entries.values()) {
      if (equalBytes(e.cid, cid)) {
        throw new TransportError(TRANSPORT_PARAMETER_ERROR, 'preferred_address repeats a CID');
      }
    }
    this.#addEntry(1, new Uint8Array(cid), new Uint8Array(resetToken));
    this.#checkLimit(0);
  }

  /**
   * Processes a NEW_CONNECTION_ID frame (RFC 9000 §19.15, §5.1.2). Returns the paths whose CID
   * Retire Prior To just retired: the caller moves each to a fresh CID (bind).
   */
  onNewConnectionId(f: {
    readonly sequence: number;
    readonly retirePriorTo: number;
    readonly connectionId: Uint8Array;
    readonly resetToken: Uint8Array;
  }): readonly number[] {
    const ft = FrameType.NEW_CONNECTION_ID;
    // RFC 9000 §19.15: a peer using zero-length CIDs MUST NOT send this; PROTOCOL_VIOLATION.
    if (this.#zeroLength) {
      throw new TransportError(PROTOCOL_VIOLATION, 'NEW_CONNECTION_ID with zero-length CIDs', ft);
    }
    const seq = f.sequence;
    // RFC 9000 §19.15: Retire Prior To above the sequence number MUST be a FRAME_ENCODING_ERROR.
    if (f.retirePriorTo > seq) {
      throw new TransportError(FRAME_ENCODING_ERROR, 'retire_prior_to exceeds sequence', ft);
    }
    if (f.connectionId.length < 1 || f.connectionId.length > 20 || f.resetToken.length !== 16) {
      throw new TransportError(FRAME_ENCODING_ERROR, 'invalid NEW_CONNECTION_ID fields', ft);
    }
    const known = this.#entries.get(seq);
    if (known) {
      // RFC 9000 §19.15: the same sequence with a different CID or token (PROTOCOL_VIOLATION).
      if (
        !equalBytes(known.cid, f.connectionId) ||
        (known.resetToken && !equalBytes(known.resetToken, f.resetToken))
      ) {
        throw new TransportError(PROTOCOL_VIOLATION, 'sequence number reused for a different CID', ft);
      }
    } else {
      // RFC 9000 §19.15: a CID repeated under a different sequence number (PROTOCOL_VIOLATION).
      for (const e of this.#entries.values()) {
        if (equalBytes(e.cid, f.connectionId)) {
          throw new TransportError(PROTOCOL_VIOLATION, 'CID repeated under another sequence number', ft);
        }
      }
    }
    // RFC 9000 §5.1.2: retire what Retire Prior To covers before adding the new CID. Values that
    // do not increase the largest one received are ignored (§19.15).
    let lost = NO_PATHS;
    if (f.retirePriorTo > this.#retirePriorTo) {
      this.#retirePriorTo = f.retirePriorTo;
      for (const e of this.#entries.values()) {
        if (e.sequence >= f.retirePriorTo) continue;
        if (e.pathId !== undefined) {
          if (lost === NO_PATHS) lost = [];
          (lost as number[]).push(e.pathId);
        }
        this.#retire(e);
      }
    }
    if (seq < this.#retirePriorTo) {
      // RFC 9000 §19.15: a CID below Retire Prior To is retired at once, unless already done.
      if (!this.#isRetired(seq)) {
        this.#retired.insert(seq);
        this.#retiredCount++;
        this.#received++;
        this.#queueRetire(seq);
      }
    } else if (!known && !this.#isRetired(seq)) {
      this.#addEntry(seq, new Uint8Array(f.connectionId), new Uint8Array(f.resetToken));
    }
    this.#checkLimit(ft);
    return lost;
  }

  /**
   * The CID a path sends with. A path without one gets an unused CID, never one used on another
   * path (RFC 9000 §9.5); `sequence` asks for a specific unused one (e.g. 1 for the preferred
   * address). Undefined when none is available.
   */
  bind(pathId: number, sequence?: number): RemoteCidBinding | undefined {
    const cur = this.#paths.get(pathId);
    if (cur) return cur;
    if (this.#zeroLength) {
      // RFC 9000 §5.1.1: a zero-length DCID on every path.
      const e = this.#entries.get(0)!;
      this.#paths.set(pathId, e);
      if (!e.used) this.#markUsed(e, pathId);
      return e;
    }
    const e = sequence === undefined ? this.#pickUnused() : this.#entries.get(sequence);
    if (!e || e.used) return undefined;
    this.#markUsed(e, pathId);
    return e;
  }

  /** CIDs held (not retired) in sequence order of arrival, with the path using each. */
  *held(): IterableIterator<{
    readonly sequence: number;
    readonly cid: Uint8Array;
    readonly pathId: number | undefined;
    readonly used: boolean;
  }> {
    yield* this.#entries.values();
  }

  /** The CID bound to a path, if any. */
  current(pathId: number): RemoteCidBinding | undefined {
    return this.#paths.get(pathId);
  }

  /**
   * Moves a path to a fresh CID and retires the old one (RFC 9000 §5.1.2, §9.5). Undefined (and
   * nothing changes) when no unused CID is available.
   */
  switchCid(pathId: number): RemoteCidBinding | undefined {
    const old = this.#paths.get(pathId);
    if (this.#zeroLength) return this.bind(pathId);
    const fresh = this.#pickUnused();
    if (!fresh) return undefined;
    if (old) this.#retire(old);
    this.#markUsed(fresh, pathId);
    return fresh;
  }

  /**
   * Hands `fromPathId`'s CID to `toPathId` (which must have none): after the peer's address
   * changed we may keep sending with the current CID to its new address (RFC 9000 §9.5) when it
   * supplied no fresh one. The old path is left without a CID.
   */
  move(fromPathId: number, toPathId: number): RemoteCidBinding | undefined {
    const e = this.#paths.get(fromPathId);
    if (!e || this.#paths.has(toPathId)) return this.#paths.get(toPathId);
    this.#paths.delete(fromPathId);
    e.pathId = toPathId;
    this.#paths.set(toPathId, e);
    return e;
  }

  /** The path is gone: retire its CID (RFC 9000 §5.1.2 SHOULD). */
  release(pathId: number): void {
    const e = this.#paths.get(pathId);
    if (!e) return;
    if (this.#zeroLength) this.#paths.delete(pathId);
    else this.#retire(e);
  }

  /**
   * Retires the peer's handshake CID (sequence 0, visible in cleartext long headers). A path
   * using it moves to a fresh CID first; false (nothing changes) when none is available.
   */
  retireHandshakeCid(): boolean {
    const e = this.#entries.get(0);
    if (!e || this.#zeroLength) return false;
    if (e.pathId !== undefined) return this.switchCid(e.pathId) !== undefined;
    this.#retire(e);
    return true;
  }

  /**
   * Whether `token` (the last 16 octets of a datagram) is the stateless reset token of a CID in
   * use (RFC 9000 §10.3.1: not unused or retired ones), compared in constant time.
   */
  matchesStatelessReset(token: Uint8Array): boolean {
    if (token.length !== 16) return false;
    let match = false;
    for (const e of this.#entries.values()) {
      // RFC 9000 §10.3.1: compare without leaking the token's value (no early exit).
      if (e.used && e.resetToken && constantTimeEqual(e.resetToken, token)) match = true;
    }
    return match;
  }

  hasPendingFrames(): boolean {
    const q = this.#queue;
    while (this.#queueHead < q.length) {
      if (this.#retireState.get(q[this.#queueHead]!) === PENDING) return true;
      this.#queueHead++;
    }
    q.length = 0;
    this.#queueHead = 0;
    return false;
  }

  /**
   * Writes pending RETIRE_CONNECTION_ID frames that fit in `w`, one record each. `packetDcidSeq`
   * is the sequence of the packet's DCID: RFC 9000 §19.16 forbids retiring it in that packet.
   * Returns the number of frames written.
   */
  writeFrames(w: BufferWriter, records: CidRecord[], packetDcidSeq = -1): number {
    let n = 0;
    const q = this.#queue;
    for (let i = this.#queueHead; i < q.length; i++) {
      const seq = q[i]!;
      if (seq === packetDcidSeq || this.#retireState.get(seq) !== PENDING) continue;
      const f: Frame = { type: 'retire_connection_id', sequence: seq };
      if (frameEncodedLength(f) > w.remaining) break;
      encodeFrame(w, f);
      this.#retireState.set(seq, SENT);
      records.push({ type: 'retire_connection_id', sequence: seq });
      n++;
    }
    while (this.#queueHead < q.length && this.#retireState.get(q[this.#queueHead]!) !== PENDING)
      this.#queueHead++;
    if (this.#queueHead === q.length) {
      q.length = 0;
      this.#queueHead = 0;
    }
    return n;
  }

  onAcked(r: CidRecord): void {
    if (r.type === 'retire_connection_id') this.#retireState.delete(r.sequence);
  }

  /** Retransmits a lost RETIRE_CONNECTION_ID (RFC 9000 §13.3). */
  onLost(r: CidRecord): void {
    if (r.type !== 'retire_connection_id' || this.#retireState.get(r.sequence) !== SENT) return;
    this.#retireState.set(r.sequence, PENDING);
    this.#queue.push(r.sequence);
  }

  /** RETIRE_CONNECTION_ID frames not yet acknowledged. */
  get pendingRetireCount(): number {
    return this.#retireState.size;
  }

  pollEvent(): RemoteCidEvent | undefined {
    if (this.#eventHead >= this.#events.length) return undefined;
    const ev = this.#events[this.#eventHead++]!;
    if (this.#eventHead === this.#events.length) {
      this.#events.length = 0;
      this.#eventHead = 0;
    }
    return ev;
  }

  #isRetired(seq: number): boolean {
    return seq < this.#retired.floor || this.#retired.has(seq);
  }

  #addEntry(sequence: number, cid: Uint8Array, resetToken: Uint8Array): void {
    this.#entries.set(sequence, { sequence, cid, resetToken, pathId: undefined, used: false });
    this.#received++;
  }

  #checkLimit(frameType: number): void {
    // RFC 9000 §5.1.1: more active CIDs than our limit MUST be a CONNECTION_ID_LIMIT_ERROR.
    if (this.#entries.size > this.activeLimit) {
      throw new TransportError(
        CONNECTION_ID_LIMIT_ERROR,
        'peer exceeded active_connection_id_limit',
        frameType,
      );
    }
    // RFC 9000 §5.1.2: too many unacknowledged retirements MAY be a CONNECTION_ID_LIMIT_ERROR.
    if (this.#retireState.size > this.#maxPendingRetires) {
      throw new TransportError(
        CONNECTION_ID_LIMIT_ERROR,
        'too many connection IDs awaiting retirement',
        frameType,
      );
    }
  }

  /** Lowest-sequence CID never used on a path. */
  #pickUnused(): Entry | undefined {
    let best: Entry | undefined;
    for (const e of this.#entries.values()) {
      if (!e.used && (!best || e.sequence < best.sequence)) best = e;
    }
    return best;
  }

  #markUsed(e: Entry, pathId: number): void {
    e.used = true;
    e.pathId = pathId;
    this.#paths.set(pathId, e);
    if (e.resetToken) this.#events.push({ type: 'active-token', token: e.resetToken });
  }

  #retire(e: Entry): void {
    this.#entries.delete(e.sequence);
    if (e.pathId !== undefined && this.#paths.get(e.pathId) === e) this.#paths.delete(e.pathId);
    e.pathId = undefined;
    this.#retired.insert(e.sequence);
    this.#retiredCount++;
    if (e.used && e.resetToken) this.#events.push({ type: 'retired-token', token: e.resetToken });
    // RFC 9000 §5.1.2: tell the peer with RETIRE_CONNECTION_ID (never with zero-length CIDs, §19.16).
    if (!this.#zeroLength) this.#queueRetire(e.sequence);
  }

  #queueRetire(seq: number): void {
    if (this.#retireState.has(seq)) return;
    this.#retireState.set(seq, PENDING);
    this.#queue.push(seq);
  }
}
