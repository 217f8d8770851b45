// HTTP/3 connection (RFC 9114), sans-IO over an H3Transport.
//
// Inputs (called by the QUIC adapter): handleStreamData(streamId, data, fin),
// handleStreamReset(streamId, errorCode), handleStopSending(streamId, errorCode),
// handleConnectionClose(errorCode, reason). Buffers passed to handleStreamData must not be
// reused by the caller: events and blocked field sections may keep views of them.
//
// Outputs: writes on the transport, and events from poll():
//   headers    { streamId, headers, endStream }  request headers (server) or response headers
//              (client; 1xx interim responses arrive as further 'headers' events before the final one)
//   data       { streamId, data, endStream }     body bytes as they arrive (never buffered whole);
//              a FIN after the last frame is reported as empty data with endStream
//   trailers   { streamId, headers, endStream }  trailer section
//   reset      { streamId, errorCode, local }    the peer reset the stream (local=false) or we
//              aborted it because of a stream error such as H3_MESSAGE_ERROR (local=true)
//   stop-sending { streamId, errorCode }         the peer no longer reads; we reset our side
//   goaway     { id }                            peer GOAWAY (stream ID from a server, push ID from a client)
//   settings   { settings }                      peer SETTINGS
//   closed     { errorCode, reason, remote }     the connection is closed (by us on an error, by
//              close(), or reported by the transport); no further events follow
//
// Constructing a connection opens the control stream (SETTINGS first, RFC 9114 §6.2.1) and the
// QPACK encoder and decoder streams. Server push is never enabled: we never send MAX_PUSH_ID.
import { concatBytes } from '../common/bytes.js';
import type { Random } from '../common/random.js';
import { cryptoRandom, randomInt } from '../common/random.js';
import { varintLength, writeVarint } from '../wire/varint.js';
import { greaseValue, H3Error, H3ErrorCode } from './errors.js';
import type { H3Settings } from './frames.js';
import {
  defaultSettings,
  encodeFrame,
  encodeIdFrame,
  encodeSettingsFrame,
  FrameReader,
  FrameType,
  isHttp2FrameType,
  parseIdPayload,
  parseSettings,
  ReadResult,
  SettingId,
  StreamType,
} from './frames.js';
import type { HeadersInit } from './headers.js';
import {
  fieldSectionSize,
  pseudoFirst,
  toFieldLines,
  validateRequest,
  validateResponse,
  validateTrailers,
} from './headers.js';
import { QpackDecoder } from './qpack/decoder.js';
import { QpackEncoder } from './qpack/encoder.js';
import type { HuffmanMode } from './qpack/primitives.js';
import type { FieldLine } from './qpack/types.js';
import type { H3Transport } from './transport.js';
import { isClientInitiated, isUniStream } from './transport.js';

export interface H3ConnectionOptions {
  /** SETTINGS_MAX_FIELD_SECTION_SIZE we advertise and enforce (default 65536). */
  maxFieldSectionSize?: number;
  /** SETTINGS_QPACK_MAX_TABLE_CAPACITY we advertise (default 4096). */
  qpackMaxTableCapacity?: number;
  /** SETTINGS_QPACK_BLOCKED_STREAMS we advertise (default 16). */
  qpackBlockedStreams?: number;
  /** Let our encoder use the dynamic table when the peer allows it (default true). */
  useDynamicTable?: boolean;
  /** Upper bound of our encoder's dynamic table capacity (default 4096). */
  encoderTableCapacity?: number;
  /** Huffman policy of our encoder (default 'auto'). */
  huffman?: HuffmanMode;
  /** Send a GREASE setting and a GREASE frame on the control stream (default true). */
  grease?: boolean;
  /** Randomness for GREASE values (default: node:crypto). */
  random?: Random;
  /** Limit of input queued on a request stream while its headers are blocked (default 1 MiB). */
  maxBufferedBytes?: number;
  /** Largest control-stream frame accepted (default 16384). */
  maxControlFrameSize?: number;
}

export type H3Event =
  | { type: 'headers'; streamId: number; headers: FieldLine[]; endStream: boolean }
  | { type: 'data'; streamId: number; data: Uint8Array; endStream: boolean }
  | { type: 'trailers'; streamId: number; headers: FieldLine[]; endStream: boolean }
  | { type: 'reset'; streamId: number; errorCode: number; local: boolean }
  | { type: 'stop-sending'; streamId: number; errorCode: number }
  | { type: 'goaway'; id: number }
  | { type: 'settings'; settings: H3Settings }
  | { type: 'closed'; errorCode: number; reason: string; remote: boolean };

export interface RespondOptions {
  /** Ends the stream after the header section (no content). */
  endStream?: boolean;
}

export type RequestOptions = RespondOptions;

// Receive phases of a request stream.
const R_HEADERS = 0; // expecting the (next) header section
const R_BODY = 1; // DATA or trailers
const R_TRAILERS = 2; // trailers received: only unknown frames may follow
const R_ENDED = 3; // FIN processed
const R_ABORTED = 4; // reset, stream error, or cancelled

// Send phases.
const W_IDLE = 0; // server: no final response yet
const W_OPEN = 1; // header section sent, DATA may follow
const W_DONE = 2; // FIN sent
const W_RESET = 3; // reset by us, or STOP_SENDING from the peer

interface RequestStream {
  readonly id: number;
  readonly reader: FrameReader;
  recv: number;
  send: number;
  fin: boolean;
  blocked: boolean;
  contentLength: number;
  received: number;
  /** Client: response to HEAD, or 204/304, never has content (RFC 9114 §4.1.2). */
  noContent: boolean;
  isHead: boolean;
  /** Sequence number of the last event queued for this stream (-1 none). */
  lastEvent: number;
}

const U_UNKNOWN = -1;
const U_IGNORED = -2;

interface UniStream {
  readonly id: number;
  readonly reader: FrameReader;
  type: number;
}

const MAX_CLIENT_GOAWAY = 2 ** 62 - 1;
const EMPTY = new Uint8Array(0);

export class H3Connection {
  readonly transport: H3Transport;
  readonly role: 'client' | 'server';
  readonly encoder: QpackEncoder;
  readonly decoder: QpackDecoder;
  /** Peer settings (defaults until its SETTINGS frame arrives, RFC 9114 §7.2.4.2). */
  peerSettings: H3Settings = defaultSettings();
  #settingsReceived = false;
  #closed = false;
  readonly #maxFieldSectionSize: number;
  readonly #maxBufferedBytes: number;
  readonly #maxControlFrameSize: number;
  readonly #maxHeadersFrame: number;

  readonly #requests = new Map<number, RequestStream>();
  readonly #uni = new Map<number, UniStream>();
  #peerControl: UniStream | undefined;
  #peerEncoder: UniStream | undefined;
  #peerDecoder: UniStream | undefined;
  #controlFirstFrame = true;

  readonly #controlStream: number;
  readonly #encoderStream: number;
  readonly #decoderStream: number;

  /** Server: largest client-initiated bidi stream ID seen (-1 none). */
  #maxPeerRequest = -1;
  /** Server: every request stream ID below this was seen; `#seenAbove` holds the others seen. */
  #seenFloor = 0;
  readonly #seenAbove = new Set<number>();
  /** GOAWAY we sent (-1 none) and the one we received (-1 none). */
  #goawaySent = -1;
  #goawayReceived = -1;
  #peerMaxPushId = -1;

  readonly #events: H3Event[] = [];
  #eventHead = 0;
  /** Total events ever queued; the event at queue index i has sequence #eventBase + i. */
  #eventBase = 0;

  constructor(transport: H3Transport, opts: H3ConnectionOptions = {}) {
    this.transport = transport;
    this.role = transport.role;
    this.#maxFieldSectionSize = opts.maxFieldSectionSize ?? 65536;
    this.#maxBufferedBytes = opts.maxBufferedBytes ?? 1 << 20;
    this.#maxControlFrameSize = opts.maxControlFrameSize ?? 16384;
    // An encoded section is bounded by its decoded size plus Huffman expansion (< 4x).
    this.#maxHeadersFrame = Math.min(4 * this.#maxFieldSectionSize + 1024, 2 ** 30);
    const maxTableCapacity = opts.qpackMaxTableCapacity ?? 4096;
    const blockedStreams = opts.qpackBlockedStreams ?? 16;
    this.decoder = new QpackDecoder({
      maxTableCapacity,
      maxBlockedStreams: blockedStreams,
      maxFieldSectionSize: this.#maxFieldSectionSize,
    });
    this.encoder = new QpackEncoder({
      huffman: opts.huffman ?? 'auto',
      useDynamicTable: opts.useDynamicTable ?? true,
      maxTableCapacity: opts.encoderTableCapacity ?? 4096,
    });

    // RFC 9114 §6.2.1: one control stream, SETTINGS first, sent without waiting for the peer.
    const params: [number, number][] = [];
    if (maxTableCapacity > 0) params.push([SettingId.QPACK_MAX_TABLE_CAPACITY, maxTableCapacity]);
    if (blockedStreams > 0) params.push([SettingId.QPACK_BLOCKED_STREAMS, blockedStreams]);
    if (Number.isFinite(this.#maxFieldSectionSize)) {
      params.push([SettingId.MAX_FIELD_SECTION_SIZE, this.#maxFieldSectionSize]);
    }
    const grease = opts.grease ?? true;
    const rng = opts.random ?? cryptoRandom;
    // RFC 9114 §7.2.4.1: endpoints SHOULD include at least one reserved setting.
    if (grease) params.push([greaseValue(randomInt(rng, 0x2000000)), randomInt(rng, 0x40000000)]);
    const parts: Uint8Array[] = [new Uint8Array([StreamType.CONTROL]), encodeSettingsFrame(params)];
    if (grease) {
      // RFC 9114 §7.2.8: a reserved frame type with a short arbitrary payload.
      const payload = new Uint8Array(randomInt(rng, 8));
      rng.fill(payload);
      parts.push(encodeFrame(greaseValue(randomInt(rng, 0x2000000)), payload));
    }
    this.#controlStream = transport.openStream(false);
    transport.write(this.#controlStream, concatBytes(...parts), false);
    // RFC 9204 §4.2: at most one encoder and one decoder stream each.
    this.#encoderStream = transport.openStream(false);
    transport.write(this.#encoderStream, new Uint8Array([StreamType.QPACK_ENCODER]), false);
    this.#decoderStream = transport.openStream(false);
    transport.write(this.#decoderStream, new Uint8Array([StreamType.QPACK_DECODER]), false);
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Whether the peer's SETTINGS frame has been received. */
  get settingsReceived(): boolean {
    return this.#settingsReceived;
  }

  /** The next event, or undefined when none is pending. */
  poll(): H3Event | undefined {
    if (this.#eventHead >= this.#events.length) return undefined;
    const e = this.#events[this.#eventHead++]!;
    if (this.#eventHead === this.#events.length) {
      this.#eventBase += this.#events.length;
      this.#events.length = 0;
      this.#eventHead = 0;
    }
    return e;
  }

  // ---------------------------------------------------------------- application API

  /**
   * Client: sends a request header section on a new request stream and returns its ID.
   * `headers` must include :method, :scheme, :authority (or host) and :path.
   */
  request(headers: HeadersInit, opts: RequestOptions = {}): number {
    if (this.role !== 'client') throw new Error('request() is for clients');
    this.#checkOpen();
    // RFC 9114 §5.2: no new requests after receiving GOAWAY.
    if (this.#goawayReceived >= 0) throw new Error('the server sent GOAWAY; open a new connection');
    const lines = pseudoFirst(toFieldLines(headers));
    const info = validateRequest(lines);
    if (typeof info === 'string') throw new TypeError(`invalid request: ${info}`);
    this.#checkPeerFieldSectionSize(lines);
    const id = this.transport.openStream(true);
    const s = this.#newRequest(id);
    s.isHead = info.method === 'HEAD';
    this.#sendHeaders(s, lines, opts.endStream ?? false);
    return id;
  }

  /**
   * Server: sends a response header section. A 1xx status is an interim response (RFC 9114
   * §4.1) and may be followed by more; the final one opens the content.
   */
  respond(streamId: number, status: number, headers: HeadersInit = [], opts: RespondOptions = {}): void {
    if (this.role !== 'server') throw new Error('respond() is for servers');
    this.#checkOpen();
    const s = this.#requests.get(streamId);
    if (!s) throw new Error(`unknown request stream ${streamId}`);
    if (s.send === W_RESET) return;
    if (s.send !== W_IDLE) throw new Error('final response already sent');
    const lines: FieldLine[] = [[':status', String(status)], ...toFieldLines(headers)];
    const info = validateResponse(lines);
    if (typeof info === 'string') throw new TypeError(`invalid response: ${info}`);
    this.#checkPeerFieldSectionSize(lines);
    const interim = info.status < 200;
    if (interim && opts.endStream) throw new TypeError('an interim response cannot end the stream');
    this.#sendHeaders(s, lines, opts.endStream ?? false, interim);
  }

  /**
   * Sends content as one DATA frame (frame header written in front of `data`, no copy).
   * Returns false when the stream can no longer be written (reset or STOP_SENDING).
   */
  sendData(streamId: number, data: Uint8Array, fin = false): boolean {
    this.#checkOpen();
    const s = this.#requests.get(streamId);
    if (!s || s.send === W_RESET) return false;
    if (s.send !== W_OPEN)
      throw new Error(s.send === W_DONE ? 'stream already finished' : 'send headers first');
    if (data.length > 0) {
      const hdr = new Uint8Array(1 + varintLength(data.length));
      writeVarint(hdr, writeVarint(hdr, 0, FrameType.DATA), data.length);
      this.transport.write(streamId, hdr, false);
      this.transport.write(streamId, data, fin);
    } else if (fin) {
      this.transport.write(streamId, data, true);
    }
    if (fin) this.#sent(s);
    return true;
  }

  /** Sends a trailer section and ends the stream (RFC 9114 §4.1). */
  sendTrailers(streamId: number, headers: HeadersInit): boolean {
    this.#checkOpen();
    const s = this.#requests.get(streamId);
    if (!s || s.send === W_RESET) return false;
    if (s.send !== W_OPEN)
      throw new Error(s.send === W_DONE ? 'stream already finished' : 'send headers first');
    const lines = toFieldLines(headers);
    const bad = validateTrailers(lines);
    if (bad) throw new TypeError(`invalid trailers: ${bad}`);
    this.#checkPeerFieldSectionSize(lines);
    this.#sendHeaders(s, lines, true);
    return true;
  }

  /**
   * Abandons a request stream in both directions (RFC 9114 §4.1.1): RESET_STREAM and
   * STOP_SENDING with `errorCode` (default H3_REQUEST_CANCELLED).
   */
  cancel(streamId: number, errorCode: number = H3ErrorCode.H3_REQUEST_CANCELLED): void {
    const s = this.#requests.get(streamId);
    if (!s || this.#closed) return;
    this.#abort(s, errorCode);
  }

  /**
   * Sends GOAWAY (RFC 9114 §5.2). A server announces the first request stream ID it will not
   * process (default: one past the last request it has seen); a client sends a push ID
   * (default 0: we never accept pushes). Later calls never raise the identifier.
   */
  goaway(id?: number): void {
    this.#checkOpen();
    let v = id ?? (this.role === 'server' && this.#maxPeerRequest >= 0 ? this.#maxPeerRequest + 4 : 0);
    if (this.role === 'server' && (v < 0 || v % 4 !== 0))
      throw new RangeError('GOAWAY needs a client bidi stream ID');
    if (this.role === 'client' && (v < 0 || v > MAX_CLIENT_GOAWAY)) throw new RangeError('invalid push ID');
    // RFC 9114 §5.2: the identifier MUST NOT exceed one sent before.
    if (this.#goawaySent >= 0 && v > this.#goawaySent) v = this.#goawaySent;
    this.#goawaySent = v;
    this.transport.write(this.#controlStream, encodeIdFrame(FrameType.GOAWAY, v), false);
    if (this.role === 'server') {
      // RFC 9114 §5.2: cancel requests at or above the identifier that were not answered.
      for (const s of this.#requests.values()) {
        if (s.id >= v && s.send === W_IDLE) this.#abort(s, H3ErrorCode.H3_REQUEST_REJECTED);
      }
    }
  }

  /** Closes the connection (CONNECTION_CLOSE with an H3 code, default H3_NO_ERROR). */
  close(errorCode: number = H3ErrorCode.H3_NO_ERROR, reason = ''): void {
    if (this.#closed) return;
    this.#closed = true;
    this.transport.close(errorCode, reason);
    this.#emit({ type: 'closed', errorCode, reason, remote: false });
  }

  // ---------------------------------------------------------------- transport input

  handleStreamData(streamId: number, data: Uint8Array, fin: boolean): void {
    if (this.#closed) return;
    try {
      if (isUniStream(streamId)) this.#onUniData(streamId, data, fin);
      else this.#onRequestData(streamId, data, fin);
    } catch (e) {
      this.#onError(e, streamId);
    }
  }

  handleStreamReset(streamId: number, errorCode: number): void {
    if (this.#closed) return;
    try {
      if (isUniStream(streamId)) {
        const u = this.#uni.get(streamId);
        // RFC 9114 §6.2.1 / RFC 9204 §4.2: closing a critical stream is a connection error.
        if (u && (u === this.#peerControl || u === this.#peerEncoder || u === this.#peerDecoder)) {
          throw new H3Error(H3ErrorCode.H3_CLOSED_CRITICAL_STREAM, 'critical stream reset');
        }
        this.#uni.delete(streamId);
        return;
      }
      const s = this.#requests.get(streamId);
      if (!s || s.recv >= R_ENDED) return;
      s.recv = R_ABORTED;
      s.reader.clear();
      // RFC 9204 §2.2.2.2: a reset before all field sections were processed.
      this.decoder.cancelStream(streamId);
      this.#flushDecoder();
      this.#emit({ type: 'reset', streamId, errorCode, local: false });
      this.#maybeForget(s);
    } catch (e) {
      this.#onError(e, streamId);
    }
  }

  handleStopSending(streamId: number, errorCode: number): void {
    if (this.#closed) return;
    try {
      if (
        streamId === this.#controlStream ||
        streamId === this.#encoderStream ||
        streamId === this.#decoderStream
      ) {
        // RFC 9114 §6.2.1 / RFC 9204 §4.2: the receiver MUST NOT ask to close critical streams.
        throw new H3Error(H3ErrorCode.H3_CLOSED_CRITICAL_STREAM, 'STOP_SENDING on a critical stream');
      }
      const s = this.#requests.get(streamId);
      if (!s || s.send >= W_DONE) return;
      // RFC 9000 §3.5: answer STOP_SENDING with RESET_STREAM.
      s.send = W_RESET;
      this.transport.resetStream(streamId, errorCode);
      this.#emit({ type: 'stop-sending', streamId, errorCode });
      this.#maybeForget(s);
    } catch (e) {
      this.#onError(e, streamId);
    }
  }

  /** The QUIC connection ended (peer CONNECTION_CLOSE, idle timeout, ...). */
  handleConnectionClose(errorCode: number, reason = ''): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#emit({ type: 'closed', errorCode, reason, remote: true });
  }

  // ---------------------------------------------------------------- request streams

  #onRequestData(id: number, data: Uint8Array, fin: boolean): void {
    let s = this.#requests.get(id);
    if (!s) {
      if (this.role === 'client') {
        // RFC 9114 §6.1: server-initiated bidirectional streams are not allowed.
        if (!isClientInitiated(id))
          throw new H3Error(H3ErrorCode.H3_STREAM_CREATION_ERROR, 'server-initiated bidi stream');
        return; // a finished request of ours
      }
      if (!isClientInitiated(id) || this.#seenRequest(id)) return; // ours, or finished and forgotten
      s = this.#newRequest(id);
      s.send = W_IDLE;
      if (this.#goawaySent >= 0 && id >= this.#goawaySent) {
        // RFC 9114 §5.2: requests at or above our GOAWAY identifier are rejected.
        this.#abort(s, H3ErrorCode.H3_REQUEST_REJECTED);
        return;
      }
    }
    if (s.recv >= R_ENDED) return;
    s.reader.push(data);
    if (fin) s.fin = true;
    if (s.blocked) {
      if (s.reader.buffered > this.#maxBufferedBytes) {
        throw new H3Error(
          H3ErrorCode.H3_EXCESSIVE_LOAD,
          'too much data behind a blocked field section',
          true,
        );
      }
      return;
    }
    this.#processRequest(s);
  }

  /** Server: records a request stream ID; true if it was seen before (streams arrive in any order). */
  #seenRequest(id: number): boolean {
    if (id < this.#seenFloor || this.#seenAbove.has(id)) return true;
    if (id > this.#maxPeerRequest) this.#maxPeerRequest = id;
    if (id === this.#seenFloor) {
      this.#seenFloor += 4;
      while (this.#seenAbove.delete(this.#seenFloor)) this.#seenFloor += 4;
    } else {
      this.#seenAbove.add(id);
    }
    return false;
  }

  #newRequest(id: number): RequestStream {
    const s: RequestStream = {
      id,
      reader: new FrameReader(),
      recv: R_HEADERS,
      send: W_OPEN,
      fin: false,
      blocked: false,
      contentLength: -1,
      received: 0,
      noContent: false,
      isHead: false,
      lastEvent: -1,
    };
    this.#requests.set(id, s);
    return s;
  }

  #processRequest(s: RequestStream): void {
    const r = s.reader;
    while (s.recv < R_ENDED && !s.blocked) {
      const k = r.next();
      if (k === ReadResult.NEED_MORE) break;
      if (k === ReadResult.HEADER) {
        this.#onRequestFrameHeader(s, r.frameType, r.frameLength);
      } else if (k === ReadResult.CHUNK) {
        const chunk = r.chunk;
        s.received += chunk.length;
        this.#emitFor(s, { type: 'data', streamId: s.id, data: chunk, endStream: false });
      } else {
        // A complete HEADERS payload.
        const lines = this.decoder.decodeFieldSection(s.id, r.payload);
        this.#flushDecoder();
        if (lines === undefined) {
          s.blocked = true;
          if (r.buffered > this.#maxBufferedBytes) {
            throw new H3Error(
              H3ErrorCode.H3_EXCESSIVE_LOAD,
              'too much data behind a blocked field section',
              true,
            );
          }
          return;
        }
        this.#onFieldSection(s, lines);
      }
    }
    // All input is in: a partial frame left over is an error (checked in #onRequestEnd).
    if (s.fin && !s.blocked && s.recv < R_ENDED) this.#onRequestEnd(s);
  }

  #onRequestFrameHeader(s: RequestStream, type: number, length: number): void {
    const r = s.reader;
    switch (type) {
      case FrameType.DATA:
        // RFC 9114 §4.1: DATA before HEADERS or after trailers is H3_FRAME_UNEXPECTED.
        if (s.recv !== R_BODY)
          throw new H3Error(H3ErrorCode.H3_FRAME_UNEXPECTED, 'DATA frame out of sequence');
        // RFC 9114 §4.1.2: content beyond Content-Length is malformed.
        if (s.contentLength >= 0 && !s.noContent && s.received + length > s.contentLength) {
          throw new H3Error(H3ErrorCode.H3_MESSAGE_ERROR, 'content exceeds content-length', true);
        }
        r.streamPayload();
        return;
      case FrameType.HEADERS:
        if (s.recv === R_TRAILERS)
          throw new H3Error(H3ErrorCode.H3_FRAME_UNEXPECTED, 'HEADERS after trailers');
        if (length > this.#maxHeadersFrame) {
          throw new H3Error(H3ErrorCode.H3_EXCESSIVE_LOAD, 'HEADERS frame too large', true);
        }
        r.bufferPayload();
        return;
      case FrameType.PUSH_PROMISE:
        // RFC 9114 §7.2.5: a server receiving PUSH_PROMISE; a client that never sent MAX_PUSH_ID
        // receives a push ID above its limit (H3_ID_ERROR).
        if (this.role === 'server')
          throw new H3Error(H3ErrorCode.H3_FRAME_UNEXPECTED, 'PUSH_PROMISE from a client');
        throw new H3Error(H3ErrorCode.H3_ID_ERROR, 'PUSH_PROMISE without MAX_PUSH_ID');
      case FrameType.CANCEL_PUSH:
      case FrameType.SETTINGS:
      case FrameType.GOAWAY:
      case FrameType.MAX_PUSH_ID:
        // RFC 9114 §7.2.3, §7.2.4, §7.2.6, §7.2.7: control-stream frames on a request stream.
        throw new H3Error(
          H3ErrorCode.H3_FRAME_UNEXPECTED,
          `frame 0x${type.toString(16)} on a request stream`,
        );
      default:
        // RFC 9114 §7.2.8: HTTP/2 frame types are errors; unknown types are ignored (§9).
        if (isHttp2FrameType(type)) {
          throw new H3Error(
            H3ErrorCode.H3_FRAME_UNEXPECTED,
            `reserved HTTP/2 frame type 0x${type.toString(16)}`,
          );
        }
        r.skipPayload();
    }
  }

  #onFieldSection(s: RequestStream, lines: FieldLine[]): void {
    if (s.recv === R_BODY) {
      const bad = validateTrailers(lines);
      // RFC 9114 §4.1.2: malformed messages are stream errors of type H3_MESSAGE_ERROR.
      if (bad) throw new H3Error(H3ErrorCode.H3_MESSAGE_ERROR, bad, true);
      s.recv = R_TRAILERS;
      this.#emitFor(s, { type: 'trailers', streamId: s.id, headers: lines, endStream: false });
      return;
    }
    if (this.role === 'server') {
      const info = validateRequest(lines);
      if (typeof info === 'string') throw new H3Error(H3ErrorCode.H3_MESSAGE_ERROR, info, true);
      s.contentLength = info.contentLength;
      s.isHead = info.method === 'HEAD';
      s.recv = R_BODY;
    } else {
      const info = validateResponse(lines);
      if (typeof info === 'string') throw new H3Error(H3ErrorCode.H3_MESSAGE_ERROR, info, true);
      if (info.status >= 200) {
        s.contentLength = info.contentLength;
        s.noContent = s.isHead || info.status === 204 || info.status === 304;
        s.recv = R_BODY;
      } else if (info.contentLength >= 0) {
        // RFC 9114 §4.1: interim responses carry no content.
        throw new H3Error(H3ErrorCode.H3_MESSAGE_ERROR, 'content-length in an interim response', true);
      }
    }
    this.#emitFor(s, { type: 'headers', streamId: s.id, headers: lines, endStream: false });
  }

  #onRequestEnd(s: RequestStream): void {
    // RFC 9114 §7.1: a stream that ends inside a frame is H3_FRAME_ERROR.
    if (!s.reader.atFrameBoundary)
      throw new H3Error(H3ErrorCode.H3_FRAME_ERROR, 'stream ended inside a frame');
    if (s.recv === R_HEADERS) {
      // RFC 9114 §4.1: a request stream without a complete request → H3_REQUEST_INCOMPLETE;
      // a response stream without a final response is malformed.
      const code = this.role === 'server' ? H3ErrorCode.H3_REQUEST_INCOMPLETE : H3ErrorCode.H3_MESSAGE_ERROR;
      throw new H3Error(code, 'stream ended before the header section', true);
    }
    // RFC 9114 §4.1.2: content-length must equal the DATA received.
    if (s.contentLength >= 0 && !s.noContent && s.received !== s.contentLength) {
      throw new H3Error(H3ErrorCode.H3_MESSAGE_ERROR, 'content-length mismatch', true);
    }
    s.recv = R_ENDED;
    const last = s.lastEvent - this.#eventBase;
    const e = last >= this.#eventHead ? this.#events[last] : undefined;
    if (e && (e.type === 'data' || e.type === 'headers' || e.type === 'trailers')) e.endStream = true;
    else this.#emitFor(s, { type: 'data', streamId: s.id, data: EMPTY, endStream: true });
    this.#maybeForget(s);
  }

  /** Stream error (RFC 9114 §8): abort both directions and report it. */
  #streamError(s: RequestStream, code: number): void {
    if (s.recv === R_ABORTED && s.send >= W_DONE) return;
    this.#abort(s, code);
    this.#emit({ type: 'reset', streamId: s.id, errorCode: code, local: true });
  }

  #abort(s: RequestStream, code: number): void {
    if (s.recv < R_ENDED) {
      if (!s.fin) this.transport.stopSending(s.id, code);
      // RFC 9204 §2.2.2.2: abandoning a stream → Stream Cancellation.
      this.decoder.cancelStream(s.id);
      this.#flushDecoder();
      s.recv = R_ABORTED;
      s.blocked = false;
      s.reader.clear();
    }
    if (s.send < W_DONE) {
      this.transport.resetStream(s.id, code);
      s.send = W_RESET;
    }
    this.#maybeForget(s);
  }

  #maybeForget(s: RequestStream): void {
    if (s.recv >= R_ENDED && s.send >= W_DONE) this.#requests.delete(s.id);
  }

  #sent(s: RequestStream): void {
    s.send = W_DONE;
    this.#maybeForget(s);
  }

  #sendHeaders(s: RequestStream, lines: FieldLine[], fin: boolean, interim = false): void {
    const block = this.encoder.encodeFieldSection(s.id, lines);
    // Encoder instructions go out first so the peer is less likely to block.
    const ins = this.encoder.takeEncoderStreamData();
    if (ins) this.transport.write(this.#encoderStream, ins, false);
    this.transport.write(s.id, encodeFrame(FrameType.HEADERS, block), fin);
    if (fin) this.#sent(s);
    else if (!interim) s.send = W_OPEN;
  }

  #checkPeerFieldSectionSize(lines: readonly FieldLine[]): void {
    // RFC 9114 §4.2.2: SHOULD NOT send a header section larger than the peer's limit.
    if (fieldSectionSize(lines) > this.peerSettings.maxFieldSectionSize) {
      throw new RangeError("field section exceeds the peer's SETTINGS_MAX_FIELD_SECTION_SIZE");
    }
  }

  // ---------------------------------------------------------------- unidirectional streams

  #onUniData(id: number, data: Uint8Array, fin: boolean): void {
    if (isClientInitiated(id) === (this.role === 'client')) return; // our own stream: no input
    let u = this.#uni.get(id);
    if (!u) {
      u = { id, reader: new FrameReader(), type: U_UNKNOWN };
      this.#uni.set(id, u);
    }
    if (u.type === U_IGNORED) return;
    if (u.type === U_UNKNOWN) {
      u.reader.push(data);
      const type = u.reader.readVarint();
      if (type < 0) {
        // RFC 9114 §6.2: tolerate streams closed before their header.
        if (fin) this.#uni.delete(id);
        return;
      }
      if (!this.#onUniType(u, type)) return;
      if (u === this.#peerControl) this.#processControl(u);
      else for (let c = u.reader.readRaw(); c; c = u.reader.readRaw()) this.#onQpackData(u, c);
    } else if (u === this.#peerControl) {
      u.reader.push(data);
      this.#processControl(u);
    } else {
      this.#onQpackData(u, data);
    }
    if (fin) {
      // RFC 9114 §6.2.1 / RFC 9204 §4.2: critical streams MUST NOT be closed.
      throw new H3Error(H3ErrorCode.H3_CLOSED_CRITICAL_STREAM, 'critical stream closed');
    }
  }

  /** Classifies a peer unidirectional stream; false when it is ignored. */
  #onUniType(u: UniStream, type: number): boolean {
    switch (type) {
      case StreamType.CONTROL:
        // RFC 9114 §6.2.1: only one control stream per peer.
        if (this.#peerControl)
          throw new H3Error(H3ErrorCode.H3_STREAM_CREATION_ERROR, 'second control stream');
        this.#peerControl = u;
        break;
      case StreamType.PUSH:
        // RFC 9114 §6.2.2: clients cannot push; RFC 9114 §4.6: a push stream without our
        // MAX_PUSH_ID is H3_ID_ERROR.
        if (this.role === 'server')
          throw new H3Error(H3ErrorCode.H3_STREAM_CREATION_ERROR, 'push stream from a client');
        throw new H3Error(H3ErrorCode.H3_ID_ERROR, 'push stream without MAX_PUSH_ID');
      case StreamType.QPACK_ENCODER:
        // RFC 9204 §4.2: a second encoder stream is H3_STREAM_CREATION_ERROR.
        if (this.#peerEncoder)
          throw new H3Error(H3ErrorCode.H3_STREAM_CREATION_ERROR, 'second QPACK encoder stream');
        this.#peerEncoder = u;
        break;
      case StreamType.QPACK_DECODER:
        if (this.#peerDecoder)
          throw new H3Error(H3ErrorCode.H3_STREAM_CREATION_ERROR, 'second QPACK decoder stream');
        this.#peerDecoder = u;
        break;
      default:
        // RFC 9114 §6.2 / §9: unknown stream types are not errors; abort reading them.
        u.type = U_IGNORED;
        u.reader.clear();
        this.transport.stopSending(u.id, H3ErrorCode.H3_STREAM_CREATION_ERROR);
        return false;
    }
    u.type = type;
    return true;
  }

  #onQpackData(u: UniStream, data: Uint8Array): void {
    if (data.length === 0) return;
    if (u === this.#peerDecoder) {
      this.encoder.handleDecoderStream(data);
      return;
    }
    const unblocked = this.decoder.handleEncoderStream(data);
    for (const id of unblocked) {
      const s = this.#requests.get(id);
      if (!s) continue;
      try {
        const lines = this.decoder.resumeFieldSection(id);
        s.blocked = false;
        this.#onFieldSection(s, lines);
        this.#processRequest(s);
      } catch (e) {
        if (e instanceof H3Error && e.stream) this.#streamError(s, e.code);
        else throw e;
      }
    }
    this.#flushDecoder();
  }

  #processControl(u: UniStream): void {
    const r = u.reader;
    for (;;) {
      const k = r.next();
      if (k === ReadResult.NEED_MORE) return;
      if (k === ReadResult.HEADER) {
        this.#onControlFrameHeader(r.frameType, r.frameLength, r);
      } else if (k === ReadResult.PAYLOAD) {
        this.#onControlFrame(r.frameType, r.payload);
      }
    }
  }

  #onControlFrameHeader(type: number, length: number, r: FrameReader): void {
    if (this.#controlFirstFrame) {
      // RFC 9114 §6.2.1: the first frame MUST be SETTINGS.
      if (type !== FrameType.SETTINGS)
        throw new H3Error(H3ErrorCode.H3_MISSING_SETTINGS, 'first control frame is not SETTINGS');
      this.#controlFirstFrame = false;
    } else if (type === FrameType.SETTINGS) {
      // RFC 9114 §7.2.4: a second SETTINGS frame.
      throw new H3Error(H3ErrorCode.H3_FRAME_UNEXPECTED, 'second SETTINGS frame');
    }
    switch (type) {
      case FrameType.DATA:
      case FrameType.HEADERS:
      case FrameType.PUSH_PROMISE:
        // RFC 9114 §7.2.1, §7.2.2, §7.2.5: not allowed on the control stream.
        throw new H3Error(
          H3ErrorCode.H3_FRAME_UNEXPECTED,
          `frame 0x${type.toString(16)} on the control stream`,
        );
      case FrameType.MAX_PUSH_ID:
        // RFC 9114 §7.2.7: a client receiving MAX_PUSH_ID.
        if (this.role === 'client')
          throw new H3Error(H3ErrorCode.H3_FRAME_UNEXPECTED, 'MAX_PUSH_ID from a server');
        break;
      case FrameType.SETTINGS:
      case FrameType.GOAWAY:
      case FrameType.CANCEL_PUSH:
        break;
      default:
        if (isHttp2FrameType(type)) {
          // RFC 9114 §7.2.8
          throw new H3Error(
            H3ErrorCode.H3_FRAME_UNEXPECTED,
            `reserved HTTP/2 frame type 0x${type.toString(16)}`,
          );
        }
        r.skipPayload();
        return;
    }
    if (length > this.#maxControlFrameSize)
      throw new H3Error(H3ErrorCode.H3_EXCESSIVE_LOAD, 'control frame too large');
    r.bufferPayload();
  }

  #onControlFrame(type: number, payload: Uint8Array): void {
    switch (type) {
      case FrameType.SETTINGS: {
        const settings = parseSettings(payload);
        this.peerSettings = settings;
        this.#settingsReceived = true;
        this.encoder.applyPeerSettings(settings.qpackMaxTableCapacity, settings.qpackBlockedStreams);
        const ins = this.encoder.takeEncoderStreamData();
        if (ins) this.transport.write(this.#encoderStream, ins, false);
        this.#emit({ type: 'settings', settings });
        return;
      }
      case FrameType.GOAWAY: {
        const id = parseIdPayload(payload);
        // RFC 9114 §7.2.6: from a server, a client-initiated bidirectional stream ID.
        if (this.role === 'client' && id % 4 !== 0) {
          throw new H3Error(H3ErrorCode.H3_ID_ERROR, 'GOAWAY with a non-request stream ID');
        }
        // RFC 9114 §5.2: the identifier MUST NOT increase.
        if (this.#goawayReceived >= 0 && id > this.#goawayReceived) {
          throw new H3Error(H3ErrorCode.H3_ID_ERROR, 'GOAWAY identifier increased');
        }
        this.#goawayReceived = id;
        this.#emit({ type: 'goaway', id });
        return;
      }
      case FrameType.MAX_PUSH_ID: {
        const id = parseIdPayload(payload);
        // RFC 9114 §7.2.7: MAX_PUSH_ID cannot decrease.
        if (id < this.#peerMaxPushId) throw new H3Error(H3ErrorCode.H3_ID_ERROR, 'MAX_PUSH_ID decreased');
        this.#peerMaxPushId = id;
        return;
      }
      case FrameType.CANCEL_PUSH:
        parseIdPayload(payload);
        // RFC 9114 §7.2.3: we never promise pushes (server) nor allow them (client), so every
        // push ID is one not yet promised / above the allowed maximum.
        throw new H3Error(H3ErrorCode.H3_ID_ERROR, 'CANCEL_PUSH for an unknown push ID');
    }
  }

  // ---------------------------------------------------------------- helpers

  #flushDecoder(): void {
    const out = this.decoder.takeDecoderStreamData();
    if (out) this.transport.write(this.#decoderStream, out, false);
  }

  #emit(e: H3Event): number {
    this.#events.push(e);
    return this.#eventBase + this.#events.length - 1;
  }

  #emitFor(s: RequestStream, e: H3Event): void {
    s.lastEvent = this.#emit(e);
  }

  #checkOpen(): void {
    if (this.#closed) throw new Error('HTTP/3 connection is closed');
  }

  #onError(e: unknown, streamId: number): void {
    if (e instanceof H3Error) {
      if (e.stream) {
        const s = this.#requests.get(streamId);
        if (s) {
          this.#streamError(s, e.code);
          return;
        }
      }
      this.#connectionError(e.code, e.reason);
      return;
    }
    this.#connectionError(H3ErrorCode.H3_INTERNAL_ERROR, e instanceof Error ? e.message : String(e));
  }

  /** Connection error (RFC 9114 §8): CONNECTION_CLOSE with the code, then 'closed'. */
  #connectionError(code: number, reason: string): void {
    if (this.#closed) return;
    this.#closed = true;
    this.transport.close(code, reason);
    this.#emit({ type: 'closed', errorCode: code, reason, remote: false });
  }
}
