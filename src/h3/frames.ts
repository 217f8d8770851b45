// HTTP/3 frames (RFC 9114 §7), stream types (§6.2) and settings (§7.2.4), plus FrameReader:
// an incremental per-stream frame parser that never buffers DATA payloads or unknown frames.
import { varintLength, writeVarint } from '../wire/varint.js';
import { BufferWriter } from '../wire/writer.js';
import { H3Error, H3ErrorCode } from './errors.js';

/** RFC 9114 §7.2 / §11.2.1 frame types. */
export const FrameType = {
  DATA: 0x00,
  HEADERS: 0x01,
  CANCEL_PUSH: 0x03,
  SETTINGS: 0x04,
  PUSH_PROMISE: 0x05,
  GOAWAY: 0x07,
  MAX_PUSH_ID: 0x0d,
} as const;
export type FrameType = (typeof FrameType)[keyof typeof FrameType];

/** RFC 9114 §7.2.8 / §11.2.1: HTTP/2 frame types reserved in HTTP/3; receipt is H3_FRAME_UNEXPECTED. */
export function isHttp2FrameType(type: number): boolean {
  return type === 0x02 || type === 0x06 || type === 0x08 || type === 0x09;
}

/** RFC 9114 §6.2 / RFC 9204 §4.2 unidirectional stream types. */
export const StreamType = {
  CONTROL: 0x00,
  PUSH: 0x01,
  QPACK_ENCODER: 0x02,
  QPACK_DECODER: 0x03,
} as const;

/** RFC 9114 §7.2.4.1 / RFC 9204 §5 setting identifiers. */
export const SettingId = {
  QPACK_MAX_TABLE_CAPACITY: 0x01,
  MAX_FIELD_SECTION_SIZE: 0x06,
  QPACK_BLOCKED_STREAMS: 0x07,
} as const;

/** RFC 9114 §7.2.4.1 / Appendix A.3: HTTP/2 settings 0x02-0x05 are errors in HTTP/3. */
export function isHttp2Setting(id: number): boolean {
  return id >= 0x02 && id <= 0x05;
}

/** A peer's settings, with RFC defaults for absent parameters. */
export interface H3Settings {
  /** SETTINGS_QPACK_MAX_TABLE_CAPACITY (default 0). */
  qpackMaxTableCapacity: number;
  /** SETTINGS_QPACK_BLOCKED_STREAMS (default 0). */
  qpackBlockedStreams: number;
  /** SETTINGS_MAX_FIELD_SECTION_SIZE (default unlimited = Infinity). */
  maxFieldSectionSize: number;
  /** Every parameter as received (including unknown and GREASE ones), in order. */
  parameters: [id: number, value: number][];
}

export function defaultSettings(): H3Settings {
  return {
    qpackMaxTableCapacity: 0,
    qpackBlockedStreams: 0,
    maxFieldSectionSize: Number.POSITIVE_INFINITY,
    parameters: [],
  };
}

/** Cursor over a complete frame payload; running short is H3_FRAME_ERROR (RFC 9114 §7.1). */
class PayloadReader {
  readonly buf: Uint8Array;
  pos = 0;

  constructor(buf: Uint8Array) {
    this.buf = buf;
  }

  get done(): boolean {
    return this.pos >= this.buf.length;
  }

  varint(): number {
    const b = this.buf;
    if (this.pos >= b.length) throw new H3Error(H3ErrorCode.H3_FRAME_ERROR, 'truncated frame payload');
    const n = 1 << (b[this.pos]! >> 6);
    if (this.pos + n > b.length) throw new H3Error(H3ErrorCode.H3_FRAME_ERROR, 'truncated frame payload');
    const v = readVarintAt(b, this.pos, n);
    this.pos += n;
    return v;
  }
}

function readVarintAt(b: Uint8Array, o: number, n: number): number {
  let v = b[o]! & 0x3f;
  for (let i = 1; i < n; i++) v = v * 256 + b[o + i]!;
  return v;
}

/**
 * Parses a SETTINGS payload (RFC 9114 §7.2.4). Duplicates and HTTP/2 settings are
 * H3_SETTINGS_ERROR; unknown identifiers are ignored (kept in `parameters`).
 */
export function parseSettings(payload: Uint8Array): H3Settings {
  const r = new PayloadReader(payload);
  const s = defaultSettings();
  const seen = new Set<number>();
  while (!r.done) {
    const id = r.varint();
    const value = r.varint();
    // RFC 9114 §7.2.4: the same identifier MUST NOT occur more than once.
    if (seen.has(id))
      throw new H3Error(H3ErrorCode.H3_SETTINGS_ERROR, `duplicate setting 0x${id.toString(16)}`);
    seen.add(id);
    // RFC 9114 §7.2.4.1: HTTP/2-only settings MUST be treated as H3_SETTINGS_ERROR.
    if (isHttp2Setting(id))
      throw new H3Error(H3ErrorCode.H3_SETTINGS_ERROR, `HTTP/2 setting 0x${id.toString(16)}`);
    s.parameters.push([id, value]);
    if (id === SettingId.QPACK_MAX_TABLE_CAPACITY) s.qpackMaxTableCapacity = value;
    else if (id === SettingId.QPACK_BLOCKED_STREAMS) s.qpackBlockedStreams = value;
    else if (id === SettingId.MAX_FIELD_SECTION_SIZE) s.maxFieldSectionSize = value;
  }
  return s;
}

/** SETTINGS frame (type and length included) carrying `parameters` in order. */
export function encodeSettingsFrame(parameters: readonly (readonly [number, number])[]): Uint8Array {
  let len = 0;
  for (const [id, v] of parameters) len += varintLength(id) + varintLength(v);
  const w = new BufferWriter(len + 16);
  w.varint(FrameType.SETTINGS).varint(len);
  for (const [id, v] of parameters) w.varint(id).varint(v);
  return w.finish();
}

/** Payload of GOAWAY, MAX_PUSH_ID and CANCEL_PUSH: exactly one varint (RFC 9114 §7.1). */
export function parseIdPayload(payload: Uint8Array): number {
  const r = new PayloadReader(payload);
  const v = r.varint();
  if (!r.done) throw new H3Error(H3ErrorCode.H3_FRAME_ERROR, 'extra octets in frame payload');
  return v;
}

/** A frame whose payload is one varint (GOAWAY, MAX_PUSH_ID, CANCEL_PUSH). */
export function encodeIdFrame(type: number, id: number): Uint8Array {
  const w = new BufferWriter(24);
  w.varint(type).varint(varintLength(id)).varint(id);
  return w.finish();
}

/** PUSH_PROMISE payload (RFC 9114 §7.2.5): Push ID then an encoded field section. */
export function parsePushPromise(payload: Uint8Array): { pushId: number; fieldSection: Uint8Array } {
  const r = new PayloadReader(payload);
  const pushId = r.varint();
  return { pushId, fieldSection: payload.subarray(r.pos) };
}

export function encodePushPromiseFrame(pushId: number, fieldSection: Uint8Array): Uint8Array {
  const idLen = varintLength(pushId);
  const payload = new Uint8Array(idLen + fieldSection.length);
  writeVarint(payload, 0, pushId);
  payload.set(fieldSection, idLen);
  return encodeFrame(FrameType.PUSH_PROMISE, payload);
}

/** Frame header (type, length) as octets. */
export function encodeFrameHeader(type: number, length: number): Uint8Array {
  const out = new Uint8Array(varintLength(type) + varintLength(length));
  writeVarint(out, writeVarint(out, 0, type), length);
  return out;
}

/** A complete frame: header then payload, in one buffer. */
export function encodeFrame(type: number, payload: Uint8Array): Uint8Array {
  const tl = varintLength(type);
  const ll = varintLength(payload.length);
  const out = new Uint8Array(tl + ll + payload.length);
  writeVarint(out, writeVarint(out, 0, type), payload.length);
  out.set(payload, tl + ll);
  return out;
}

/** Results of FrameReader.next(). */
export const ReadResult = {
  /** More input is needed. */
  NEED_MORE: 0,
  /** A frame header was read (`frameType`, `frameLength`); call bufferPayload/streamPayload/skipPayload. */
  HEADER: 1,
  /** A buffered frame payload is complete (`payload`). */
  PAYLOAD: 2,
  /** A piece of a streamed payload (`chunk`; `frameRemaining` octets of the frame follow). */
  CHUNK: 3,
} as const;
export type ReadResult = (typeof ReadResult)[keyof typeof ReadResult];

const S_HEADER = 0;
const S_DECIDE = 1;
const S_BUFFER = 2;
const S_STREAM = 3;
const S_SKIP = 4;

const EMPTY = new Uint8Array(0);

/**
 * Incremental frame parser for one stream. Input chunks are queued without copying; payload
 * views may alias them (callers must not reuse buffers passed to `push`). A payload is copied
 * only when it spans several chunks.
 */
export class FrameReader {
  #chunks: Uint8Array[] = [];
  #head = 0;
  #off = 0;
  #state = S_HEADER;
  #remaining = 0;
  /** Unread octets queued. */
  buffered = 0;
  frameType = 0;
  frameLength = 0;
  payload: Uint8Array = EMPTY;
  chunk: Uint8Array = EMPTY;

  push(data: Uint8Array): void {
    if (data.length === 0) return;
    this.#chunks.push(data);
    this.buffered += data.length;
  }

  /** True between frames with nothing queued: a clean place for the stream to end (RFC 9114 §7.1). */
  get atFrameBoundary(): boolean {
    return this.#state === S_HEADER && this.buffered === 0;
  }

  /** Octets of the current frame's payload not yet returned. */
  get frameRemaining(): number {
    return this.#remaining;
  }

  /** Drops everything queued (after the stream is abandoned). */
  clear(): void {
    this.#chunks = [];
    this.#head = 0;
    this.#off = 0;
    this.buffered = 0;
    this.#state = S_HEADER;
  }

  /** Reads a varint outside frames (stream type, push ID); -1 if incomplete. */
  readVarint(): number {
    if (this.buffered === 0) return -1;
    const n = 1 << (this.#peek(0) >> 6);
    if (this.buffered < n) return -1;
    let v = this.#peek(0) & 0x3f;
    for (let i = 1; i < n; i++) v = v * 256 + this.#peek(i);
    this.#consume(n);
    return v;
  }

  /** Takes the next queued piece as is (for unframed streams); undefined if none. */
  readRaw(): Uint8Array | undefined {
    if (this.buffered === 0) return undefined;
    const c = this.#chunks[this.#head]!;
    const v = this.#off === 0 ? c : c.subarray(this.#off);
    this.#consume(v.length);
    return v;
  }

  next(): ReadResult {
    switch (this.#state) {
      case S_HEADER: {
        if (this.buffered === 0) return ReadResult.NEED_MORE;
        const tn = 1 << (this.#peek(0) >> 6);
        if (this.buffered < tn + 1) return ReadResult.NEED_MORE;
        const ln = 1 << (this.#peek(tn) >> 6);
        if (this.buffered < tn + ln) return ReadResult.NEED_MORE;
        let t = this.#peek(0) & 0x3f;
        for (let i = 1; i < tn; i++) t = t * 256 + this.#peek(i);
        let l = this.#peek(tn) & 0x3f;
        for (let i = 1; i < ln; i++) l = l * 256 + this.#peek(tn + i);
        this.#consume(tn + ln);
        this.frameType = t;
        this.frameLength = l;
        this.#remaining = l;
        this.#state = S_DECIDE;
        return ReadResult.HEADER;
      }
      case S_DECIDE:
        throw new Error('FrameReader: payload disposition not chosen');
      case S_BUFFER: {
        const n = this.#remaining;
        if (this.buffered < n) return ReadResult.NEED_MORE;
        this.payload = this.#take(n);
        this.#remaining = 0;
        this.#state = S_HEADER;
        return ReadResult.PAYLOAD;
      }
      case S_STREAM: {
        if (this.#remaining === 0) {
          this.#state = S_HEADER;
          return this.next();
        }
        if (this.buffered === 0) return ReadResult.NEED_MORE;
        const c = this.#chunks[this.#head]!;
        const n = Math.min(this.#remaining, c.length - this.#off);
        this.chunk = c.subarray(this.#off, this.#off + n);
        this.#consume(n);
        this.#remaining -= n;
        if (this.#remaining === 0) this.#state = S_HEADER;
        return ReadResult.CHUNK;
      }
      default: {
        const n = Math.min(this.#remaining, this.buffered);
        this.#consume(n);
        this.#remaining -= n;
        if (this.#remaining > 0) return ReadResult.NEED_MORE;
        this.#state = S_HEADER;
        return this.next();
      }
    }
  }

  /** The current frame's payload will be returned whole (PAYLOAD). */
  bufferPayload(): void {
    this.#state = S_BUFFER;
  }

  /** The current frame's payload will be returned in pieces as it arrives (CHUNK). */
  streamPayload(): void {
    this.#state = S_STREAM;
  }

  /** The current frame's payload is discarded. */
  skipPayload(): void {
    this.#state = S_SKIP;
  }

  #peek(k: number): number {
    let i = this.#head;
    let o = this.#off + k;
    for (;;) {
      const c = this.#chunks[i]!;
      if (o < c.length) return c[o]!;
      o -= c.length;
      i++;
    }
  }

  #consume(n: number): void {
    this.buffered -= n;
    while (n > 0) {
      const c = this.#chunks[this.#head]!;
      const avail = c.length - this.#off;
      if (n < avail) {
        this.#off += n;
        return;
      }
      n -= avail;
      this.#head++;
      this.#off = 0;
    }
    if (this.#head === this.#chunks.length) {
      this.#chunks.length = 0;
      this.#head = 0;
    } else if (this.#head > 16) {
      this.#chunks = this.#chunks.slice(this.#head);
      this.#head = 0;
    }
  }

  /** Next `n` queued octets: a view when contiguous, else a copy. */
  #take(n: number): Uint8Array {
    if (n === 0) return EMPTY;
    const c = this.#chunks[this.#head]!;
    if (c.length - this.#off >= n) {
      const v = c.subarray(this.#off, this.#off + n);
      this.#consume(n);
      return v;
    }
    const out = new Uint8Array(n);
    let o = 0;
    while (o < n) {
      const cur = this.#chunks[this.#head]!;
      const k = Math.min(n - o, cur.length - this.#off);
      out.set(cur.subarray(this.#off, this.#off + k), o);
      o += k;
      this.#consume(k);
    }
    return out;
  }
}
