// All streams of one connection (RFC 9000 §2–4): stream IDs and limits, the sending and
// receiving state machines, flow control at both levels, the frames that carry them, and
// round-robin scheduling of STREAM frames.
import { TransportError, TransportErrorCode } from '../common/errors.js';
import type { Duration, Instant } from '../common/time.js';
import { type Frame, FrameType, streamFrameHeaderLength, writeStreamFrameHeader } from '../wire/frames.js';
import { varintLength } from '../wire/varint.js';
import type { BufferWriter } from '../wire/writer.js';
import { StreamUsageError, StreamUsageErrorCode } from './errors.js';
import { ReceiveWindow, SendCredit } from './flow-control.js';
import { Reassembler } from './reassembler.js';
import { SendBuffer } from './send-buffer.js';

export interface StreamManagerConfig {
  role: 'client' | 'server';
  /** Our initial_max_streams_bidi / _uni: peer-initiated streams allowed at once. */
  maxStreamsBidi: number;
  maxStreamsUni: number;
  /** Our initial_max_data and initial_max_stream_data_* transport parameters. */
  initialMaxData: number;
  initialMaxStreamDataBidiLocal: number;
  initialMaxStreamDataBidiRemote: number;
  initialMaxStreamDataUni: number;
  /** Auto-tuning caps for the receive windows. */
  maxConnectionWindow: number;
  maxStreamWindow: number;
  /** Unacknowledged octets buffered per stream before write() refuses more. */
  sendBufferLimit: number;
}

export interface PeerStreamLimits {
  initialMaxData: number;
  initialMaxStreamDataBidiLocal: number;
  initialMaxStreamDataBidiRemote: number;
  initialMaxStreamDataUni: number;
  initialMaxStreamsBidi: number;
  initialMaxStreamsUni: number;
}

export type StreamEvent =
  /** The peer opened a stream (also for implicitly opened lower IDs, RFC 9000 §3.2). */
  | { type: 'opened'; id: number }
  /** New in-order data or the end of the stream is available. */
  | { type: 'readable'; id: number }
  /** Buffer space became available after write() accepted less than offered. */
  | { type: 'writable'; id: number }
  /** The peer reset the stream (RESET_STREAM). */
  | { type: 'reset'; id: number; errorCode: number; finalSize: number }
  /** The peer sent STOP_SENDING; our sending part was reset with its code (RFC 9000 §3.5). */
  | { type: 'stop-sending'; id: number; errorCode: number }
  /** All our data and the FIN were acknowledged. */
  | { type: 'finished'; id: number }
  /** The peer raised MAX_STREAMS after open() failed. */
  | { type: 'streams-available'; bidi: boolean };

/** What a sent packet carried; handed back through onAcked / onLost. */
export type StreamRecord =
  | { kind: 'stream'; id: number; offset: number; length: number; fin: boolean }
  | { kind: 'reset_stream'; id: number }
  | { kind: 'stop_sending'; id: number }
  | { kind: 'max_data' }
  | { kind: 'max_stream_data'; id: number }
  | { kind: 'max_streams'; bidi: boolean }
  | { kind: 'data_blocked' }
  | { kind: 'stream_data_blocked'; id: number }
  | { kind: 'streams_blocked'; bidi: boolean };

export interface StreamManagerStats {
  openStreams: number;
  openedLocalBidi: number;
  openedLocalUni: number;
  openedRemoteBidi: number;
  openedRemoteUni: number;
  /** Peer's limits on streams we open; our limits on the peer's. */
  peerMaxStreamsBidi: number;
  peerMaxStreamsUni: number;
  localMaxStreamsBidi: number;
  localMaxStreamsUni: number;
  sendBufferedBytes: number;
  recvBufferedBytes: number;
  recvRetainedBytes: number;
  connSendLimit: number;
  connSendUsed: number;
  connRecvLimit: number;
  connRecvReceived: number;
  connRecvWindow: number;
}

const SendState = { Ready: 0, Send: 1, DataSent: 2, DataRecvd: 3, ResetSent: 4, ResetRecvd: 5 } as const;
type SendState = (typeof SendState)[keyof typeof SendState];
const RecvState = { Recv: 0, SizeKnown: 1, DataRecvd: 2, DataRead: 3, ResetRead: 4 } as const;
type RecvState = (typeof RecvState)[keyof typeof RecvState];

/** RFC 9000 §4.6 / §19.11: at most 2^60 streams of a type. */
const MAX_STREAM_COUNT = 2 ** 60;
/** RFC 9002 §6.2.2 initial RTT, used for auto-tuning until an RTT sample exists. */
const INITIAL_RTT: Duration = 333_000;

const BIDI = 0;
const UNI = 1;

const MAX_DATA_RECORD: StreamRecord = Object.freeze({ kind: 'max_data' });
const DATA_BLOCKED_RECORD: StreamRecord = Object.freeze({ kind: 'data_blocked' });
const MAX_STREAMS_RECORDS: readonly StreamRecord[] = [
  Object.freeze({ kind: 'max_streams', bidi: true }),
  Object.freeze({ kind: 'max_streams', bidi: false }),
];
const STREAMS_BLOCKED_RECORDS: readonly StreamRecord[] = [
  Object.freeze({ kind: 'streams_blocked', bidi: true }),
  Object.freeze({ kind: 'streams_blocked', bidi: false }),
];

class Stream {
  readonly id: number;
  readonly local: boolean;
  // Sending part (undefined on a peer's unidirectional stream).
  readonly send: SendBuffer | undefined;
  readonly credit: SendCredit | undefined;
  sendState: SendState = SendState.Ready;
  resetCode = 0;
  resetFinalSize = 0;
  resetPending = false;
  wantsWritable = false;
  inSendQueue = false;
  connBlocked = false;
  // Receiving part (undefined on our unidirectional stream).
  readonly recv: Reassembler | undefined;
  readonly window: ReceiveWindow | undefined;
  recvState: RecvState = RecvState.Recv;
  stopped = false;
  stopCode = 0;
  stopPending = false;
  /** Connection-level consumption has been credited up to this offset. */
  creditedTo = 0;
  readableSignaled = false;
  inControlQueue = false;

  constructor(
    id: number,
    local: boolean,
    sendLimit: number | undefined,
    recvWindow: { initial: number; max: number } | undefined,
    now: Instant | undefined,
  ) {
    this.id = id;
    this.local = local;
    if (sendLimit !== undefined) {
      this.send = new SendBuffer();
      this.credit = new SendCredit(sendLimit);
    }
    if (recvWindow !== undefined) {
      this.recv = new Reassembler();
      this.window = new ReceiveWindow({ initial: recvWindow.initial, max: recvWindow.max }, now);
    }
  }

  get sendActive(): boolean {
    return this.send !== undefined && this.sendState <= SendState.DataSent;
  }

  get sendDone(): boolean {
    return (
      this.send === undefined ||
      this.sendState === SendState.DataRecvd ||
      this.sendState === SendState.ResetRecvd
    );
  }

  get recvDone(): boolean {
    return this.recv === undefined || this.recvState >= RecvState.DataRead;
  }

  /** RFC 9000 §13.3: MAX_STREAM_DATA only while in "Recv" and still reading. */
  get maxStreamDataPending(): boolean {
    return this.window?.updatePending === true && this.recvState === RecvState.Recv && !this.stopped;
  }

  get blockedPending(): boolean {
    return this.credit?.blockedPending === true && this.sendState <= SendState.Send;
  }

  get hasControl(): boolean {
    return this.resetPending || this.stopPending || this.maxStreamDataPending || this.blockedPending;
  }
}

export class StreamManager {
  readonly #config: StreamManagerConfig;
  readonly #localBit: number;
  readonly #streams = new Map<number, Stream>();

  /** Streams we opened, per direction; the peer's limit on them. */
  readonly #nextLocal = [0, 0];
  readonly #peerMaxStreams = [0, 0];
  readonly #openBlocked = [false, false];
  readonly #streamsBlockedAt = [-1, -1];
  readonly #streamsBlockedPending = [false, false];
  /** Streams the peer opened (implicitly included), per direction; our limit on them. */
  readonly #nextRemote = [0, 0];
  readonly #maxRemote: number[];
  readonly #maxStreamsPending = [false, false];

  /** Initial stream send limits from the peer's transport parameters. */
  #peerBidiLocal = 0;
  #peerBidiRemote = 0;
  #peerUni = 0;

  readonly #connSend = new SendCredit(0);
  readonly #connRecv: ReceiveWindow;

  /** Round-robin queue of streams with something to send (lazily validated). */
  #sendQueue: Stream[] = [];
  #sendHead = 0;
  /** Streams with only new data, waiting for MAX_DATA. */
  #connBlockedList: Stream[] = [];
  readonly #controlQueue = new Set<Stream>();

  #events: StreamEvent[] = [];
  #eventHead = 0;
  #srtt: Duration = INITIAL_RTT;
  /** Latest time seen (for operations without an explicit `now`). */
  #now: Instant = 0;

  constructor(config: StreamManagerConfig) {
    this.#config = config;
    this.#localBit = config.role === 'server' ? 1 : 0;
    this.#maxRemote = [
      Math.min(config.maxStreamsBidi, MAX_STREAM_COUNT),
      Math.min(config.maxStreamsUni, MAX_STREAM_COUNT),
    ];
    this.#connRecv = new ReceiveWindow({ initial: config.initialMaxData, max: config.maxConnectionWindow });
  }

  // ------------------------------------------------------------------------------------------
  // Limits and application API

  /**
   * Applies the peer's transport parameters (or the remembered ones for 0-RTT). Limits only
   * grow: a second call with larger values raises them.
   */
  setPeerLimits(p: PeerStreamLimits): void {
    if (this.#connSend.update(p.initialMaxData)) this.#unblockConnection();
    this.#raisePeerMaxStreams(BIDI, p.initialMaxStreamsBidi);
    this.#raisePeerMaxStreams(UNI, p.initialMaxStreamsUni);
    this.#peerBidiLocal = Math.max(this.#peerBidiLocal, p.initialMaxStreamDataBidiLocal);
    this.#peerBidiRemote = Math.max(this.#peerBidiRemote, p.initialMaxStreamDataBidiRemote);
    this.#peerUni = Math.max(this.#peerUni, p.initialMaxStreamDataUni);
    // RFC 9000 §7.4.1: update the limits of existing sending streams.
    for (const s of this.#streams.values()) {
      if (s.credit?.update(this.#initialSendLimit(s.id))) this.#enqueue(s);
    }
  }

  setSmoothedRtt(us: Duration): void {
    if (us > 0) this.#srtt = us;
  }

  /** Opens a stream; undefined when the peer's limit is reached (then STREAMS_BLOCKED is queued). */
  open(bidi: boolean): number | undefined {
    const dir = bidi ? BIDI : UNI;
    const index = this.#nextLocal[dir]!;
    const limit = this.#peerMaxStreams[dir]!;
    // RFC 9000 §4.6: never exceed the peer's limit; signal STREAMS_BLOCKED once per limit.
    if (index >= limit) {
      this.#openBlocked[dir] = true;
      if (this.#streamsBlockedAt[dir] !== limit) {
        this.#streamsBlockedAt[dir] = limit;
        this.#streamsBlockedPending[dir] = true;
      }
      return undefined;
    }
    this.#nextLocal[dir] = index + 1;
    const id = index * 4 + (bidi ? 0 : 2) + this.#localBit;
    const c = this.#config;
    const s = new Stream(
      id,
      true,
      this.#initialSendLimit(id),
      bidi ? { initial: c.initialMaxStreamDataBidiLocal, max: c.maxStreamWindow } : undefined,
      this.#now,
    );
    this.#streams.set(id, s);
    return id;
  }

  /**
   * Queues data (kept by reference: do not modify it afterwards). Returns how many octets were
   * accepted: at most `sendBufferLimit` unacknowledged octets are buffered per stream; when not
   * all were accepted, a 'writable' event follows once space frees up.
   */
  write(id: number, data: Uint8Array, fin: boolean): number {
    const s = this.#appStream(id, true);
    if (s === undefined)
      throw new StreamUsageError(StreamUsageErrorCode.STREAM_CLOSED, `stream ${id} is closed`);
    const send = s.send!;
    if (s.sendState >= SendState.ResetSent) {
      throw new StreamUsageError(StreamUsageErrorCode.STREAM_RESET, `stream ${id} was reset`);
    }
    if (send.finWritten)
      throw new StreamUsageError(StreamUsageErrorCode.STREAM_FINISHED, `stream ${id} is finished`);
    const room = this.#config.sendBufferLimit - send.bufferedBytes;
    const n = room <= 0 ? 0 : Math.min(room, data.length);
    if (n < data.length) s.wantsWritable = true;
    const finNow = fin && n === data.length;
    if (n === 0 && !finNow) return 0;
    send.write(n === data.length ? data : data.subarray(0, n), finNow);
    this.#enqueue(s);
    return n;
  }

  /**
   * Reads up to `max` in-order octets. `fin` is true with the last octets (or alone, with
   * empty data) when the stream is complete. Undefined when nothing is readable now.
   */
  read(id: number, max: number, now: Instant): { data: Uint8Array; fin: boolean } | undefined {
    const s = this.#appStream(id, false);
    if (s === undefined || s.recvState >= RecvState.DataRead) return undefined;
    const recv = s.recv!;
    const data = recv.read(max);
    if (data === undefined) {
      if (recv.isFinished) {
        this.#finishRead(s);
        return { data: new Uint8Array(0), fin: true };
      }
      s.readableSignaled = false;
      return undefined;
    }
    this.#now = now;
    // RFC 9000 §4.1/§4.2: consumed data frees credit; MAX_STREAM_DATA / MAX_DATA follow.
    if (s.window!.onConsumed(data.length, now, this.#srtt) && s.recvState === RecvState.Recv) {
      this.#connRecv.ensureWindow(Math.floor(s.window!.window * 1.5));
      this.#control(s);
    }
    this.#creditConnection(s, recv.readOffset, now);
    const fin = recv.isFinished;
    if (fin) this.#finishRead(s);
    else if (!recv.readable) s.readableSignaled = false;
    return { data, fin };
  }

  /** Abandons sending (RESET_STREAM with `errorCode`, RFC 9000 §3.1). */
  reset(id: number, errorCode: number): void {
    const s = this.#appStream(id, true);
    if (s?.sendActive) this.#resetSend(s, errorCode);
  }

  /** Abandons reading (STOP_SENDING with `errorCode`, RFC 9000 §3.5); buffered data is dropped. */
  stopSending(id: number, errorCode: number): void {
    const s = this.#appStream(id, false);
    if (s === undefined || s.stopped || s.recvState >= RecvState.DataRead) return;
    const recv = s.recv!;
    s.stopped = true;
    s.stopCode = errorCode;
    s.readableSignaled = false;
    recv.discard();
    // RFC 9000 §3.5: STOP_SENDING only helps in "Recv" or "Size Known".
    if (
      s.recvState === RecvState.DataRecvd ||
      (recv.finalSize !== undefined && recv.highestOffset === recv.finalSize)
    ) {
      s.recvState = RecvState.DataRead;
    } else {
      s.stopPending = true;
      this.#control(s);
    }
    this.#creditConnection(s, recv.highestOffset, this.#now);
    this.#maybeForget(s);
  }

  pollEvent(): StreamEvent | undefined {
    if (this.#eventHead >= this.#events.length) {
      if (this.#eventHead > 0) {
        this.#events = [];
        this.#eventHead = 0;
      }
      return undefined;
    }
    const e = this.#events[this.#eventHead]!;
    this.#events[this.#eventHead++] = undefined as unknown as StreamEvent;
    if (this.#eventHead > 1024 && this.#eventHead * 2 > this.#events.length) {
      this.#events = this.#events.slice(this.#eventHead);
      this.#eventHead = 0;
    }
    return e;
  }

  /** Whether `id` is currently tracked (open in at least one direction). */
  has(id: number): boolean {
    return this.#streams.has(id);
  }

  stats(): StreamManagerStats {
    let sendBuffered = 0;
    let recvBuffered = 0;
    let recvRetained = 0;
    for (const s of this.#streams.values()) {
      if (s.send !== undefined) sendBuffered += s.send.bufferedBytes;
      if (s.recv !== undefined) {
        recvBuffered += s.recv.bufferedBytes;
        recvRetained += s.recv.retainedBytes;
      }
    }
    return {
      openStreams: this.#streams.size,
      openedLocalBidi: this.#nextLocal[BIDI]!,
      openedLocalUni: this.#nextLocal[UNI]!,
      openedRemoteBidi: this.#nextRemote[BIDI]!,
      openedRemoteUni: this.#nextRemote[UNI]!,
      peerMaxStreamsBidi: this.#peerMaxStreams[BIDI]!,
      peerMaxStreamsUni: this.#peerMaxStreams[UNI]!,
      localMaxStreamsBidi: this.#maxRemote[BIDI]!,
      localMaxStreamsUni: this.#maxRemote[UNI]!,
      sendBufferedBytes: sendBuffered,
      recvBufferedBytes: recvBuffered,
      recvRetainedBytes: recvRetained,
      connSendLimit: this.#connSend.limit,
      connSendUsed: this.#connSend.used,
      connRecvLimit: this.#connRecv.advertised,
      connRecvReceived: this.#connRecv.received,
      connRecvWindow: this.#connRecv.window,
    };
  }

  /** Connection closed: releases every buffer and forgets all streams. */
  abandon(): void {
    for (const s of this.#streams.values()) {
      s.send?.release();
      s.recv?.discard();
    }
    this.#streams.clear();
    this.#sendQueue = [];
    this.#sendHead = 0;
    this.#connBlockedList = [];
    this.#controlQueue.clear();
    this.#events = [];
    this.#eventHead = 0;
    this.#maxStreamsPending[BIDI] = this.#maxStreamsPending[UNI] = false;
    this.#streamsBlockedPending[BIDI] = this.#streamsBlockedPending[UNI] = false;
    this.#connRecv.updatePending = false;
    this.#connSend.blockedPending = false;
  }

  /**
   * 0-RTT was rejected (RFC 9001 §4.6.2): nothing sent so far reached the peer. Every stream's
   * data is queued again from its start and the control frames are re-queued.
   */
  discardZeroRttData(): void {
    let released = 0;
    for (const s of this.#streams.values()) {
      const send = s.send;
      if (send !== undefined) {
        if (s.sendActive) {
          const before = send.sentOffset;
          send.requeueAll();
          released += before - send.sentOffset;
          s.credit!.used = send.sentOffset;
          s.credit!.resetBlocked();
          s.sendState = SendState.Ready;
          this.#enqueue(s);
        } else if (s.sendState === SendState.ResetSent) {
          s.resetPending = true;
        }
      }
      if (s.stopped && s.recvState < RecvState.DataRead) s.stopPending = true;
      if (s.window !== undefined && s.window.advertised > s.window.window) s.window.updatePending = true;
      if (s.hasControl) this.#control(s);
    }
    this.#connSend.used -= released;
    this.#connSend.resetBlocked();
    for (const s of this.#connBlockedList) {
      s.connBlocked = false;
      this.#enqueue(s);
    }
    this.#connBlockedList = [];
    if (this.#connRecv.advertised > this.#config.initialMaxData) this.#connRecv.updatePending = true;
    for (let dir = BIDI; dir <= UNI; dir++) {
      const initial = dir === BIDI ? this.#config.maxStreamsBidi : this.#config.maxStreamsUni;
      if (this.#maxRemote[dir]! > initial) this.#maxStreamsPending[dir] = true;
      this.#streamsBlockedAt[dir] = -1;
      if (this.#openBlocked[dir]) this.#streamsBlockedPending[dir] = true;
    }
  }

  // ------------------------------------------------------------------------------------------
  // Incoming frames

  /**
   * Applies a stream-related frame from the peer. Other frame types are ignored. Violations
   * throw a TransportError carrying the frame type.
   */
  onFrame(f: Frame, now: Instant): void {
    this.#now = now;
    switch (f.type) {
      case 'stream':
        this.#onStream(f.streamId, f.offset, f.data, f.fin, now);
        return;
      case 'reset_stream':
        this.#onResetStream(f.streamId, f.errorCode, f.finalSize, now);
        return;
      case 'stop_sending':
        this.#onStopSending(f.streamId, f.errorCode, now);
        return;
      case 'max_data':
        if (this.#connSend.update(f.maximum)) this.#unblockConnection();
        return;
      case 'max_stream_data': {
        const s = this.#frameStream(f.streamId, FrameType.MAX_STREAM_DATA, true, now);
        // RFC 9000 §4.1: only increases count; §3.1: may be ignored once all data is sent.
        if (s?.sendActive && s.credit!.update(f.maximum)) this.#enqueue(s);
        return;
      }
      case 'max_streams': {
        const type = f.bidi ? FrameType.MAX_STREAMS_BIDI : FrameType.MAX_STREAMS_UNI;
        // RFC 9000 §19.11: more than 2^60 streams is a FRAME_ENCODING_ERROR.
        if (f.maximum > MAX_STREAM_COUNT) {
          throw new TransportError(TransportErrorCode.FRAME_ENCODING_ERROR, 'MAX_STREAMS above 2^60', type);
        }
        this.#raisePeerMaxStreams(f.bidi ? BIDI : UNI, f.maximum);
        return;
      }
      case 'data_blocked':
        // The peer missed our latest MAX_DATA: send it again.
        if (this.#connRecv.advertised > f.limit) this.#connRecv.updatePending = true;
        return;
      case 'stream_data_blocked': {
        const s = this.#frameStream(f.streamId, FrameType.STREAM_DATA_BLOCKED, false, now);
        if (s !== undefined && s.window!.advertised > f.limit && s.recvState === RecvState.Recv) {
          s.window!.updatePending = true;
          this.#control(s);
        }
        return;
      }
      case 'streams_blocked': {
        const type = f.bidi ? FrameType.STREAMS_BLOCKED_BIDI : FrameType.STREAMS_BLOCKED_UNI;
        // RFC 9000 §19.14: more than 2^60 streams is an error.
        if (f.limit > MAX_STREAM_COUNT) {
          throw new TransportError(
            TransportErrorCode.FRAME_ENCODING_ERROR,
            'STREAMS_BLOCKED above 2^60',
            type,
          );
        }
        const dir = f.bidi ? BIDI : UNI;
        if (this.#maxRemote[dir]! > f.limit) this.#maxStreamsPending[dir] = true;
        return;
      }
      default:
        return;
    }
  }

  #onStream(id: number, offset: number, data: Uint8Array, fin: boolean, now: Instant): void {
    const type = FrameType.STREAM;
    const s = this.#frameStream(id, type, false, now);
    if (s === undefined) return;
    const recv = s.recv!;
    const end = offset + data.length;
    recv.check(end, fin); // RFC 9000 §4.5, §19.8
    // RFC 9000 §4.1: stream and connection flow control.
    const grow = s.window!.onReceivedUpTo(end, type);
    this.#connRecv.onReceived(grow, type);
    if (s.recvState >= RecvState.DataRecvd) {
      // All data already received (or read, or reset): a retransmission, nothing to store.
      return;
    }
    const newlyReadable = recv.insert(offset, data, fin);
    if (recv.discarding) {
      // STOP_SENDING was sent: data still counts toward flow control (§3.5) and is dropped.
      this.#creditConnection(s, recv.highestOffset, now);
      if (recv.finalSize !== undefined && recv.highestOffset === recv.finalSize) {
        s.recvState = RecvState.DataRead;
        s.stopPending = false;
        this.#maybeForget(s);
      }
      return;
    }
    if (recv.finalSize !== undefined && s.recvState === RecvState.Recv) s.recvState = RecvState.SizeKnown;
    if (recv.isComplete) s.recvState = RecvState.DataRecvd;
    if ((newlyReadable || recv.readable || recv.isFinished) && !s.readableSignaled) {
      s.readableSignaled = true;
      this.#emit({ type: 'readable', id: s.id });
    }
  }

  #onResetStream(id: number, errorCode: number, finalSize: number, now: Instant): void {
    const type = FrameType.RESET_STREAM;
    const s = this.#frameStream(id, type, false, now);
    if (s === undefined) return;
    const recv = s.recv!;
    // RFC 9000 §4.5: the final size cannot change and cannot be below received data.
    recv.setFinalSize(finalSize, type);
    // RFC 9000 §4.5, §19.4: the final size counts toward both flow-control limits.
    const grow = s.window!.onReceivedUpTo(finalSize, type);
    this.#connRecv.onReceived(grow, type);
    // Data fully received is delivered; a reset in "Recv"/"Size Known" interrupts (§3.2).
    if (s.recvState >= RecvState.DataRecvd) return;
    recv.discard();
    s.recvState = RecvState.ResetRead;
    s.stopPending = false;
    s.readableSignaled = false;
    this.#creditConnection(s, finalSize, now);
    this.#emit({ type: 'reset', id: s.id, errorCode, finalSize });
    this.#maybeForget(s);
  }

  #onStopSending(id: number, errorCode: number, now: Instant): void {
    const s = this.#frameStream(id, FrameType.STOP_SENDING, true, now);
    if (s === undefined || !s.sendActive) return;
    // RFC 9000 §3.5: answer with RESET_STREAM, copying the error code.
    this.#emit({ type: 'stop-sending', id: s.id, errorCode });
    this.#resetSend(s, errorCode);
  }

  /**
   * The stream a frame from the peer refers to, creating peer streams as needed (RFC 9000
   * §3.2). `toSender` frames (MAX_STREAM_DATA, STOP_SENDING) address our sending part; the
   * others our receiving part. Undefined when the stream is closed and forgotten.
   */
  #frameStream(id: number, frameType: number, toSender: boolean, now: Instant): Stream | undefined {
    const t = id % 4;
    const uni = t >= 2;
    const local = t % 2 === this.#localBit;
    if (uni && local !== toSender) {
      // RFC 9000 §19.4, §19.8, §19.13: RESET_STREAM, STREAM, STREAM_DATA_BLOCKED for a
      // send-only stream; §19.5, §19.10: STOP_SENDING, MAX_STREAM_DATA for a receive-only one.
      throw new TransportError(
        TransportErrorCode.STREAM_STATE_ERROR,
        local ? 'frame for a send-only stream' : 'frame for a receive-only stream',
        frameType,
      );
    }
    const dir = uni ? UNI : BIDI;
    const index = Math.floor(id / 4);
    if (local) {
      // RFC 9000 §19.4–19.10: a locally initiated stream that was not yet created.
      if (index >= this.#nextLocal[dir]!) {
        throw new TransportError(TransportErrorCode.STREAM_STATE_ERROR, 'stream not yet opened', frameType);
      }
      return this.#streams.get(id);
    }
    // RFC 9000 §4.6: beyond the limit we advertised.
    if (index >= this.#maxRemote[dir]!) {
      throw new TransportError(TransportErrorCode.STREAM_LIMIT_ERROR, 'stream limit exceeded', frameType);
    }
    // RFC 9000 §3.2: opening a stream opens all lower-numbered streams of its type.
    for (let i = this.#nextRemote[dir]!; i <= index; i++) this.#openRemote(i * 4 + t, uni, now);
    if (this.#nextRemote[dir]! <= index) this.#nextRemote[dir] = index + 1;
    return this.#streams.get(id);
  }

  #openRemote(id: number, uni: boolean, now: Instant): void {
    const c = this.#config;
    const s = new Stream(
      id,
      false,
      uni ? undefined : this.#initialSendLimit(id),
      { initial: uni ? c.initialMaxStreamDataUni : c.initialMaxStreamDataBidiRemote, max: c.maxStreamWindow },
      now,
    );
    this.#streams.set(id, s);
    this.#emit({ type: 'opened', id });
  }

  // ------------------------------------------------------------------------------------------
  // Outgoing frames

  /** Anything to send now: control frames, or stream data with credit (or retransmissions). */
  hasPendingFrames(): boolean {
    const sendable = this.#peekSendQueue() !== undefined;
    if (sendable || this.#connLevelPending()) return true;
    for (const s of this.#controlQueue) {
      if (s.hasControl) return true;
      s.inControlQueue = false;
      this.#controlQueue.delete(s);
    }
    return false;
  }

  #connLevelPending(): boolean {
    return (
      this.#connRecv.updatePending ||
      this.#maxStreamsPending[BIDI]! ||
      this.#maxStreamsPending[UNI]! ||
      this.#connSend.blockedPending ||
      this.#streamsBlockedPending[BIDI]! ||
      this.#streamsBlockedPending[UNI]!
    );
  }

  /**
   * Fills `w` (up to `w.remaining`): control frames first, then STREAM frames round-robin
   * (one packet's worth per stream before rotating). One record per frame is pushed. When
   * `allowImplicitLength`, the last STREAM frame omits its Length field, so the caller must not
   * write anything after it.
   */
  writeFrames(w: BufferWriter, records: StreamRecord[], now: Instant, allowImplicitLength = true): void {
    this.#now = now;
    // Discover blocked streams first so their signals travel in this packet.
    this.#peekSendQueue();
    this.#writeConnectionControl(w, records);
    this.#writeStreamControl(w, records);

    let lastStart = -1;
    let lastHeader = 0;
    let lastEnd = -1;
    let lastStream: Stream | undefined;
    let lastOffset = 0;
    let lastLength = 0;
    let lastFin = false;
    let filled = false;
    while (!filled) {
      const s = this.#peekSendQueue();
      if (s === undefined) break;
      const send = s.send!;
      const credit = s.credit!;
      let wrote = false;
      while (this.#sendable(s) === 1) {
        const rem = w.remaining;
        const maxOffset = Math.min(credit.limit, send.sentOffset + this.#connSend.available);
        // Sendable but nothing fits: the packet is full.
        if (!send.nextPiece(rem, maxOffset)) {
          filled = true;
          break;
        }
        const header0 = streamFrameHeaderLength(s.id, send.pieceOffset, 0, false);
        const avail = rem - header0;
        if (avail < 0 || !send.nextPiece(avail, maxOffset)) {
          filled = true;
          break;
        }
        let explicit = header0 + varintLength(send.pieceLength) + send.pieceLength <= rem;
        if (!explicit && !allowImplicitLength) {
          // Shrink the piece so that its Length field fits.
          const shorter = rem - header0 - varintLength(send.pieceLength);
          if (shorter < 0 || !send.nextPiece(shorter, maxOffset)) {
            filled = true;
            break;
          }
          explicit = true;
        }
        const off = send.pieceOffset;
        const len = send.pieceLength;
        const fin = send.pieceFin;
        // Otherwise, without room for a Length field the frame runs to the end of the packet.
        const start = w.offset;
        writeStreamFrameHeader(w, s.id, off, len, fin, explicit);
        const header = w.offset - start;
        if (len > 0) send.copyOut(w.buf, w.offset, off, len);
        w.offset += len;
        const fresh = send.commitPiece();
        if (fresh > 0) {
          this.#connSend.consume(fresh);
          credit.used = send.sentOffset;
        }
        // RFC 9000 §3.1: "Ready" → "Send" → "Data Sent".
        if (s.sendState === SendState.Ready) s.sendState = SendState.Send;
        if (fin) s.sendState = SendState.DataSent;
        records.push({ kind: 'stream', id: s.id, offset: off, length: len, fin });
        wrote = true;
        if (!explicit) {
          lastStart = -1;
          filled = true;
          break;
        }
        lastStart = start;
        lastHeader = header;
        lastEnd = w.offset;
        lastStream = s;
        lastOffset = off;
        lastLength = len;
        lastFin = fin;
      }
      if (filled && !wrote) break; // no room at all: it keeps its turn for the next packet
      // Rotate: the stream had its packet's worth; streams that ran dry leave the queue.
      this.#sendHead++;
      if (this.#sendable(s) === 1) this.#sendQueue.push(s);
      else {
        s.inSendQueue = false;
        this.#classifyUnsendable(s);
      }
    }
    // Blocked signals discovered while writing.
    if (this.#connSend.blockedPending || this.#controlQueue.size > 0) {
      const before = w.offset;
      this.#writeConnectionControl(w, records);
      this.#writeStreamControl(w, records);
      if (w.offset !== before) lastStart = -1;
    }
    if (allowImplicitLength && lastStart >= 0 && lastEnd === w.offset && lastStream !== undefined) {
      // The last frame in the packet: drop its Length field (RFC 9000 §19.8).
      const newHeader = lastHeader - varintLength(lastLength);
      w.buf.copyWithin(lastStart + newHeader, lastStart + lastHeader, lastEnd);
      w.offset = lastStart;
      writeStreamFrameHeader(w, lastStream.id, lastOffset, lastLength, lastFin, false);
      w.offset += lastLength;
    }
    this.#compactSendQueue();
  }

  #writeConnectionControl(w: BufferWriter, records: StreamRecord[]): void {
    const connRecv = this.#connRecv;
    if (connRecv.updatePending && 1 + varintLength(connRecv.advertised) <= w.remaining) {
      w.u8(FrameType.MAX_DATA).varint(connRecv.takeUpdate());
      records.push(MAX_DATA_RECORD);
    }
    for (let dir = BIDI; dir <= UNI; dir++) {
      const max = this.#maxRemote[dir]!;
      if (this.#maxStreamsPending[dir] && 1 + varintLength(max) <= w.remaining) {
        w.u8(dir === BIDI ? FrameType.MAX_STREAMS_BIDI : FrameType.MAX_STREAMS_UNI).varint(max);
        this.#maxStreamsPending[dir] = false;
        records.push(MAX_STREAMS_RECORDS[dir]!);
      }
      const limit = this.#peerMaxStreams[dir]!;
      if (this.#streamsBlockedPending[dir] && 1 + varintLength(limit) <= w.remaining) {
        w.u8(dir === BIDI ? FrameType.STREAMS_BLOCKED_BIDI : FrameType.STREAMS_BLOCKED_UNI).varint(limit);
        this.#streamsBlockedPending[dir] = false;
        records.push(STREAMS_BLOCKED_RECORDS[dir]!);
      }
    }
    const connSend = this.#connSend;
    if (connSend.blockedPending && 1 + varintLength(connSend.limit) <= w.remaining) {
      w.u8(FrameType.DATA_BLOCKED).varint(connSend.takeBlocked());
      records.push(DATA_BLOCKED_RECORD);
    }
  }

  #writeStreamControl(w: BufferWriter, records: StreamRecord[]): void {
    for (const s of this.#controlQueue) {
      const id = s.id;
      const idLen = 1 + varintLength(id);
      if (
        s.resetPending &&
        idLen + varintLength(s.resetCode) + varintLength(s.resetFinalSize) <= w.remaining
      ) {
        w.u8(FrameType.RESET_STREAM).varint(id).varint(s.resetCode).varint(s.resetFinalSize);
        s.resetPending = false;
        records.push({ kind: 'reset_stream', id });
      }
      if (s.stopPending && idLen + varintLength(s.stopCode) <= w.remaining) {
        w.u8(FrameType.STOP_SENDING).varint(id).varint(s.stopCode);
        s.stopPending = false;
        records.push({ kind: 'stop_sending', id });
      }
      if (s.maxStreamDataPending && idLen + varintLength(s.window!.advertised) <= w.remaining) {
        w.u8(FrameType.MAX_STREAM_DATA).varint(id).varint(s.window!.takeUpdate());
        records.push({ kind: 'max_stream_data', id });
      }
      if (s.blockedPending && idLen + varintLength(s.credit!.limit) <= w.remaining) {
        w.u8(FrameType.STREAM_DATA_BLOCKED).varint(id).varint(s.credit!.takeBlocked());
        records.push({ kind: 'stream_data_blocked', id });
      }
      if (!s.hasControl) {
        s.inControlQueue = false;
        this.#controlQueue.delete(s);
      }
      if (w.remaining < 3) break;
    }
  }

  // ------------------------------------------------------------------------------------------
  // Acknowledgements and losses

  onAcked(r: StreamRecord): void {
    switch (r.kind) {
      case 'stream': {
        const s = this.#streams.get(r.id);
        if (s === undefined || !s.sendActive) return;
        const send = s.send!;
        send.onAcked(r.offset, r.length, r.fin);
        if (send.allAcked && send.finWritten) {
          // RFC 9000 §3.1: all data acknowledged → "Data Recvd".
          s.sendState = SendState.DataRecvd;
          s.wantsWritable = false;
          this.#emit({ type: 'finished', id: s.id });
          this.#maybeForget(s);
          return;
        }
        if (s.wantsWritable && send.bufferedBytes < this.#config.sendBufferLimit) {
          s.wantsWritable = false;
          this.#emit({ type: 'writable', id: s.id });
        }
        return;
      }
      case 'reset_stream': {
        const s = this.#streams.get(r.id);
        if (s === undefined || s.sendState !== SendState.ResetSent) return;
        // RFC 9000 §3.1: "Reset Recvd".
        s.sendState = SendState.ResetRecvd;
        s.resetPending = false;
        this.#maybeForget(s);
        return;
      }
      default:
        return;
    }
  }

  /** RFC 9000 §13.3: lost information is sent again, with current values for limits. */
  onLost(r: StreamRecord): void {
    switch (r.kind) {
      case 'stream': {
        const s = this.#streams.get(r.id);
        // §13.3: no retransmission after RESET_STREAM.
        if (s === undefined || !s.sendActive) return;
        s.send!.onLost(r.offset, r.length, r.fin);
        this.#enqueue(s);
        return;
      }
      case 'reset_stream': {
        const s = this.#streams.get(r.id);
        // §13.3: RESET_STREAM is sent until acknowledged, unchanged.
        if (s !== undefined && s.sendState === SendState.ResetSent) {
          s.resetPending = true;
          this.#control(s);
        }
        return;
      }
      case 'stop_sending': {
        const s = this.#streams.get(r.id);
        // §13.3: until the receiving part is in "Data Recvd" or "Reset Recvd".
        if (s?.stopped && s.recvState < RecvState.DataRecvd) {
          s.stopPending = true;
          this.#control(s);
        }
        return;
      }
      case 'max_data':
        this.#connRecv.onUpdateLost();
        return;
      case 'max_stream_data': {
        const s = this.#streams.get(r.id);
        if (s?.window !== undefined && s.recvState === RecvState.Recv && !s.stopped) {
          s.window.onUpdateLost();
          this.#control(s);
        }
        return;
      }
      case 'max_streams':
        this.#maxStreamsPending[r.bidi ? BIDI : UNI] = true;
        return;
      case 'data_blocked':
        this.#connSend.onBlockedLost();
        return;
      case 'stream_data_blocked': {
        const s = this.#streams.get(r.id);
        if (s?.credit !== undefined && s.sendState <= SendState.Send) {
          s.credit.onBlockedLost();
          if (s.credit.blockedPending) this.#control(s);
        }
        return;
      }
      case 'streams_blocked': {
        const dir = r.bidi ? BIDI : UNI;
        const limit = this.#peerMaxStreams[dir]!;
        if (
          this.#openBlocked[dir] &&
          this.#streamsBlockedAt[dir] === limit &&
          this.#nextLocal[dir]! >= limit
        ) {
          this.#streamsBlockedPending[dir] = true;
        }
        return;
      }
    }
  }

  // ------------------------------------------------------------------------------------------
  // Internals

  #emit(e: StreamEvent): void {
    this.#events.push(e);
  }

  /** The stream the application names; undefined if it existed and is closed and forgotten. */
  #appStream(id: number, sending: boolean): Stream | undefined {
    const s = this.#streams.get(id);
    if (s !== undefined) {
      if ((sending ? s.send : s.recv) === undefined) {
        throw new StreamUsageError(
          StreamUsageErrorCode.WRONG_DIRECTION,
          `stream ${id} is ${sending ? 'receive' : 'send'}-only`,
        );
      }
      return s;
    }
    if (!Number.isSafeInteger(id) || id < 0) {
      throw new StreamUsageError(StreamUsageErrorCode.UNKNOWN_STREAM, `invalid stream ID ${id}`);
    }
    const t = id % 4;
    const uni = t >= 2;
    const local = t % 2 === this.#localBit;
    if (uni && local !== sending) {
      throw new StreamUsageError(
        StreamUsageErrorCode.WRONG_DIRECTION,
        `stream ${id} is ${sending ? 'receive' : 'send'}-only`,
      );
    }
    const dir = uni ? UNI : BIDI;
    const index = Math.floor(id / 4);
    if (index < (local ? this.#nextLocal[dir]! : this.#nextRemote[dir]!)) return undefined;
    throw new StreamUsageError(StreamUsageErrorCode.UNKNOWN_STREAM, `stream ${id} is not open`);
  }

  /** Peer's initial limit for our sending part of `id` (RFC 9000 §18.2). */
  #initialSendLimit(id: number): number {
    const t = id % 4;
    if (t >= 2) return this.#peerUni;
    return t % 2 === this.#localBit ? this.#peerBidiRemote : this.#peerBidiLocal;
  }

  #raisePeerMaxStreams(dir: number, maximum: number): void {
    const max = Math.min(maximum, MAX_STREAM_COUNT);
    // RFC 9000 §4.6, §19.11: values that do not increase the limit are ignored.
    if (max <= this.#peerMaxStreams[dir]!) return;
    this.#peerMaxStreams[dir] = max;
    this.#streamsBlockedPending[dir] = false;
    if (this.#openBlocked[dir]) {
      this.#openBlocked[dir] = false;
      this.#emit({ type: 'streams-available', bidi: dir === BIDI });
    }
  }

  #resetSend(s: Stream, errorCode: number): void {
    const send = s.send!;
    s.sendState = SendState.ResetSent;
    s.resetCode = errorCode;
    // RFC 9000 §4.5: the final size is what flow control was charged for.
    s.resetFinalSize = send.sentOffset;
    s.resetPending = true;
    s.wantsWritable = false;
    send.release();
    s.credit!.blockedPending = false;
    this.#control(s);
  }

  #finishRead(s: Stream): void {
    s.recvState = RecvState.DataRead;
    s.readableSignaled = false;
    this.#maybeForget(s);
  }

  /** Credits connection-level consumption of `s` up to `upTo` (read or discarded octets). */
  #creditConnection(s: Stream, upTo: number, now: Instant): void {
    if (upTo <= s.creditedTo) return;
    this.#connRecv.onConsumed(upTo - s.creditedTo, now, this.#srtt);
    s.creditedTo = upTo;
  }

  #control(s: Stream): void {
    if (!s.inControlQueue) {
      s.inControlQueue = true;
      this.#controlQueue.add(s);
    }
  }

  #enqueue(s: Stream): void {
    if (!s.inSendQueue && s.sendActive) {
      s.inSendQueue = true;
      this.#sendQueue.push(s);
    }
  }

  /** 1 = sendable, 2 = only new data and no connection credit, 3 = no stream credit, 0 = nothing. */
  #sendable(s: Stream): number {
    if (!s.sendActive) return 0;
    const send = s.send!;
    if (send.hasRetransmit) return 1;
    if (send.unsentBytes === 0) return send.finWritten && !send.finSent ? 1 : 0;
    if (send.sentOffset >= s.credit!.limit) return 3;
    if (this.#connSend.available === 0) return 2;
    return 1;
  }

  /** Records why a stream left the send queue, queueing blocked signals once per limit. */
  #classifyUnsendable(s: Stream): void {
    const why = this.#sendable(s);
    if (why === 3) {
      // RFC 9000 §4.1, §19.13: STREAM_DATA_BLOCKED.
      s.credit!.markBlocked();
      if (s.credit!.blockedPending) this.#control(s);
    } else if (why === 2) {
      // RFC 9000 §4.1, §19.12: DATA_BLOCKED.
      this.#connSend.markBlocked();
      if (!s.connBlocked) {
        s.connBlocked = true;
        this.#connBlockedList.push(s);
      }
    }
  }

  /** Head of the send queue, dropping streams with nothing sendable. */
  #peekSendQueue(): Stream | undefined {
    const q = this.#sendQueue;
    while (this.#sendHead < q.length) {
      const s = q[this.#sendHead]!;
      if (this.#sendable(s) === 1) return s;
      this.#sendHead++;
      s.inSendQueue = false;
      this.#classifyUnsendable(s);
    }
    this.#compactSendQueue();
    return undefined;
  }

  #compactSendQueue(): void {
    const h = this.#sendHead;
    if (h === 0) return;
    if (h >= this.#sendQueue.length) {
      this.#sendQueue = [];
      this.#sendHead = 0;
    } else if (h > 64 && h * 2 > this.#sendQueue.length) {
      this.#sendQueue = this.#sendQueue.slice(h);
      this.#sendHead = 0;
    }
  }

  #unblockConnection(): void {
    const list = this.#connBlockedList;
    if (list.length === 0) return;
    this.#connBlockedList = [];
    for (const s of list) {
      s.connBlocked = false;
      this.#enqueue(s);
    }
  }

  /** Forgets a stream whose both parts are terminal; re-issues stream credit (RFC 9000 §4.6). */
  #maybeForget(s: Stream): void {
    if (!s.sendDone || !s.recvDone || s.resetPending || s.stopPending) return;
    if (!this.#streams.delete(s.id)) return;
    if (s.inControlQueue) {
      s.inControlQueue = false;
      this.#controlQueue.delete(s);
    }
    s.inSendQueue = false;
    if (!s.local) {
      const dir = s.id % 4 >= 2 ? UNI : BIDI;
      if (this.#maxRemote[dir]! < MAX_STREAM_COUNT) {
        this.#maxRemote[dir]!++;
        this.#maxStreamsPending[dir] = true;
      }
    }
  }
}
