// QPACK encoder (RFC 9204 §2.1). Always correct with the static table and literals (Huffman
// when shorter); when the peer allows a dynamic table (SETTINGS_QPACK_MAX_TABLE_CAPACITY > 0)
// and `useDynamicTable` is on, it also inserts field lines and references them, tracking
// references per field section until acknowledged so that it never evicts an entry that is
// not evictable (§2.1.1) and never risks more blocked streams than the peer allows (§2.1.2).
import { BufferWriter } from '../../wire/writer.js';
import { H3ErrorCode } from '../errors.js';
import { DynamicTable, entrySize } from './dynamic-table.js';
import {
  readDecoderInstruction,
  writeDuplicate,
  writeInsertWithLiteralName,
  writeInsertWithNameRef,
  writeSetCapacity,
} from './instructions.js';
import type { HuffmanMode } from './primitives.js';
import { INCOMPLETE, QpackReader, writeInt, writeString } from './primitives.js';
import { staticIndexOf, staticNameIndexOf } from './static-table.js';
import type { FieldLine } from './types.js';

export interface QpackEncoderOptions {
  /** Huffman policy for literals (default 'auto': when shorter). */
  huffman?: HuffmanMode;
  /** Use the dynamic table when the peer permits it (default true). */
  useDynamicTable?: boolean;
  /** Upper bound of the dynamic table capacity we choose (default 4096). */
  maxTableCapacity?: number;
}

/** Fields never inserted in the dynamic table and sent with the N bit (RFC 9204 §7.1.3). */
const SENSITIVE = new Set(['authorization', 'proxy-authorization', 'cookie', 'set-cookie']);
/** Fields whose values rarely repeat: not worth a dynamic table entry. */
const VOLATILE = new Set([
  ':path',
  'content-length',
  'content-range',
  'date',
  'etag',
  'last-modified',
  'if-modified-since',
  'if-none-match',
  'if-range',
  'age',
  'range',
  'expires',
]);

interface Section {
  readonly requiredInsertCount: number;
  readonly refs: number[];
}

export class QpackEncoder {
  readonly table = new DynamicTable();
  readonly huffman: HuffmanMode;
  readonly useDynamicTable: boolean;
  readonly maxTableCapacity: number;
  #peerMaxCapacity = 0;
  #peerBlockedStreams = 0;
  #maxEntries = 0;
  /** RFC 9204 §2.1.4 Known Received Count. */
  #knownReceivedCount = 0;
  /** Outstanding references per absolute index (RFC 9204 §2.1.1). */
  readonly #refs = new Map<number, number>();
  /** Unacknowledged field sections with dynamic references, per stream, oldest first. */
  readonly #unacked = new Map<number, Section[]>();
  /** Latest absolute index per `name\0value` and per name. */
  readonly #byField = new Map<string, number>();
  readonly #byName = new Map<string, number>();
  readonly #out = new BufferWriter(64);
  readonly #lines = new BufferWriter(256);
  #inBuf = new BufferWriter(64);
  #inNeed = 0;
  readonly #reader = new QpackReader(new Uint8Array(0), 0, 0, H3ErrorCode.QPACK_DECODER_STREAM_ERROR, true);

  constructor(opts: QpackEncoderOptions = {}) {
    this.huffman = opts.huffman ?? 'auto';
    this.useDynamicTable = opts.useDynamicTable ?? true;
    this.maxTableCapacity = opts.maxTableCapacity ?? 4096;
  }

  get knownReceivedCount(): number {
    return this.#knownReceivedCount;
  }

  /** Number of streams with sections that reference unacknowledged entries. */
  get blockingStreams(): number {
    let n = 0;
    for (const sections of this.#unacked.values()) {
      if (sections.some((s) => s.requiredInsertCount > this.#knownReceivedCount)) n++;
    }
    return n;
  }

  /**
   * Applies the peer decoder's SETTINGS_QPACK_MAX_TABLE_CAPACITY and
   * SETTINGS_QPACK_BLOCKED_STREAMS (RFC 9204 §5). Call once, when SETTINGS arrive.
   */
  applyPeerSettings(maxTableCapacity: number, blockedStreams: number): void {
    this.#peerMaxCapacity = maxTableCapacity;
    this.#peerBlockedStreams = blockedStreams;
    // RFC 9204 §4.5.1.1: MaxEntries derives from the decoder's maximum capacity.
    this.#maxEntries = Math.floor(maxTableCapacity / 32);
    // RFC 9204 §3.2.3: with a zero maximum, no encoder instructions at all.
    const capacity = Math.min(maxTableCapacity, this.maxTableCapacity);
    if (!this.useDynamicTable || capacity < 64 || this.table.capacity !== 0) return;
    // RFC 9204 §4.3.1: a capacity no larger than the peer's maximum.
    writeSetCapacity(this.#out, capacity);
    this.table.setCapacity(capacity);
  }

  /** Peer's SETTINGS_QPACK_MAX_TABLE_CAPACITY (0 until its SETTINGS arrive). */
  get peerMaxTableCapacity(): number {
    return this.#peerMaxCapacity;
  }

  /** Pending encoder-stream octets (to write on our encoder stream), or undefined. */
  takeEncoderStreamData(): Uint8Array | undefined {
    if (this.#out.offset === 0) return undefined;
    const out = this.#out.finish();
    this.#out.offset = 0;
    return out;
  }

  /**
   * Encodes a field section for `streamId` (RFC 9204 §4.5); field lines keep their order
   * (RFC 9204 §2.1). Names must already be lowercase latin1 strings.
   */
  encodeFieldSection(streamId: number, fields: readonly FieldLine[]): Uint8Array {
    const w = this.#lines;
    w.offset = 0;
    const dynamic = this.table.capacity > 0;
    const base = this.table.insertCount;
    let ric = 0;
    let refs: number[] | undefined;
    const canBlock = dynamic && this.#mayBlock(streamId);
    for (const [name, value] of fields) {
      const si = staticIndexOf(name, value);
      if (si >= 0) {
        // RFC 9204 §4.5.2 Indexed Field Line, static (T=1).
        writeInt(w, 0xc0, 6, si);
        continue;
      }
      const sensitive = SENSITIVE.has(name);
      let abs = -1;
      if (dynamic && !sensitive) {
        const existing = this.#byField.get(`${name}\0${value}`);
        if (existing !== undefined && this.table.has(existing)) {
          abs = this.#find(existing, canBlock);
          if (abs < 0 && this.#draining(existing)) {
            // RFC 9204 §2.1.1.1: refresh a draining entry with a Duplicate.
            const dup = this.duplicate(existing);
            abs = canBlock ? dup : -1;
          }
        } else if (this.#shouldIndex(name, value)) {
          abs = this.#insertField(name, value, canBlock);
        }
      }
      if (abs >= 0) {
        (refs ??= []).push(abs);
        this.#ref(abs);
        if (abs >= ric) ric = abs + 1;
        // RFC 9204 §4.5.2 (relative index, T=0) or §4.5.3 (post-Base index).
        if (abs < base) writeInt(w, 0x80, 6, base - 1 - abs);
        else writeInt(w, 0x10, 4, abs - base);
        continue;
      }
      const n = sensitive ? 0x20 : 0;
      const sn = staticNameIndexOf(name);
      if (sn >= 0) {
        // RFC 9204 §4.5.4 Literal Field Line with (static) Name Reference.
        writeInt(w, 0x50 | n, 4, sn);
        writeString(w, 0, 8, value, this.huffman);
        continue;
      }
      const dn = dynamic ? this.#find(this.#byName.get(name), canBlock) : -1;
      if (dn >= 0) {
        (refs ??= []).push(dn);
        this.#ref(dn);
        if (dn >= ric) ric = dn + 1;
        // RFC 9204 §4.5.4 (dynamic, relative) or §4.5.5 (post-Base name reference).
        if (dn < base) writeInt(w, 0x40 | n, 4, base - 1 - dn);
        else writeInt(w, 0x00 | (n >> 2), 3, dn - base);
        writeString(w, 0, 8, value, this.huffman);
        continue;
      }
      // RFC 9204 §4.5.6 Literal Field Line with Literal Name.
      writeString(w, 0x20 | (n >> 1), 4, name, this.huffman);
      writeString(w, 0, 8, value, this.huffman);
    }
    const out = new BufferWriter(w.offset + 16);
    if (ric === 0) {
      out.u8(0).u8(0);
    } else {
      // RFC 9204 §4.5.1.1 / §4.5.1.2: encoded Required Insert Count, then sign and Delta Base.
      writeInt(out, 0, 8, (ric % (2 * this.#maxEntries)) + 1);
      if (base >= ric) writeInt(out, 0x00, 7, base - ric);
      else writeInt(out, 0x80, 7, ric - base - 1);
      let list = this.#unacked.get(streamId);
      if (!list) this.#unacked.set(streamId, (list = []));
      list.push({ requiredInsertCount: ric, refs: refs ?? [] });
    }
    out.bytes(w.view());
    return out.finish();
  }

  /** Processes decoder-stream octets (RFC 9204 §4.4); violations are QPACK_DECODER_STREAM_ERROR. */
  handleDecoderStream(data: Uint8Array): void {
    let buf = data;
    let end = data.length;
    if (this.#inBuf.offset > 0) {
      this.#inBuf.bytes(data);
      if (this.#inBuf.offset < this.#inNeed) return;
      buf = this.#inBuf.buf;
      end = this.#inBuf.offset;
    }
    const r = this.#reader;
    r.reset(buf, 0, end);
    let start = 0;
    try {
      while (r.pos < r.end) {
        start = r.pos;
        this.#applyInstruction(r);
      }
      start = r.end;
    } catch (e) {
      if (e !== INCOMPLETE) throw e;
    }
    if (start >= end) {
      this.#inBuf.offset = 0;
      this.#inNeed = 0;
    } else if (buf === this.#inBuf.buf) {
      buf.copyWithin(0, start, end);
      this.#inBuf.offset = end - start;
      this.#inNeed = r.needEnd - start;
    } else {
      this.#inBuf.offset = 0;
      this.#inBuf.bytes(buf.subarray(start, end));
      this.#inNeed = r.needEnd - start;
    }
  }

  #applyInstruction(r: QpackReader): void {
    const ins = readDecoderInstruction(r);
    switch (ins.type) {
      case 'section-ack': {
        const list = this.#unacked.get(ins.streamId);
        const s = list?.shift();
        // RFC 9204 §4.4.1: acknowledging a stream with nothing outstanding is an error.
        if (!s) r.fail('Section Acknowledgment for a stream without unacknowledged sections');
        if (list!.length === 0) this.#unacked.delete(ins.streamId);
        this.#unref(s.refs);
        // RFC 9204 §2.1.4
        if (s.requiredInsertCount > this.#knownReceivedCount)
          this.#knownReceivedCount = s.requiredInsertCount;
        return;
      }
      case 'stream-cancel': {
        // RFC 9204 §4.4.2: the stream's references are no longer outstanding.
        const list = this.#unacked.get(ins.streamId);
        if (!list) return;
        this.#unacked.delete(ins.streamId);
        for (const s of list) this.#unref(s.refs);
        return;
      }
      case 'insert-count-increment':
        // RFC 9204 §4.4.3: zero, or beyond what we sent, is an error.
        if (ins.increment === 0 || this.#knownReceivedCount + ins.increment > this.table.insertCount) {
          r.fail('invalid Insert Count Increment');
        }
        this.#knownReceivedCount += ins.increment;
        return;
    }
  }

  /** RFC 9204 §2.1.2: may this section reference unacknowledged entries? */
  #mayBlock(streamId: number): boolean {
    const list = this.#unacked.get(streamId);
    if (list?.some((s) => s.requiredInsertCount > this.#knownReceivedCount)) return true;
    return this.blockingStreams < this.#peerBlockedStreams;
  }

  /** An entry usable for a reference: present, not draining, acknowledged unless `canBlock`. */
  #find(abs: number | undefined, canBlock: boolean): number {
    if (abs === undefined || !this.table.has(abs)) return -1;
    if (!canBlock && abs >= this.#knownReceivedCount) return -1;
    if (this.#draining(abs)) return -1;
    return abs;
  }

  /**
   * RFC 9204 §2.1.1.1: once the table is three quarters full, entries in its oldest quarter
   * are no longer referenced so that they become evictable.
   */
  #draining(abs: number): boolean {
    const t = this.table;
    if (t.size <= (t.capacity * 3) / 4) return false;
    let bytes = 0;
    for (let a = t.dropped; a <= abs; a++) {
      bytes += t.sizeOf(a);
      if (bytes > t.capacity / 4) return false;
    }
    return true;
  }

  #shouldIndex(name: string, value: string): boolean {
    return !VOLATILE.has(name) && entrySize(name, value) <= this.table.capacity / 4;
  }

  /**
   * Inserts a field line (RFC 9204 §4.3.2/§4.3.3) if that evicts only evictable entries.
   * Returns its absolute index when the section may reference it, else -1.
   */
  #insertField(name: string, value: string, canBlock: boolean): number {
    const size = entrySize(name, value);
    const evict = this.#evictionCount(size);
    if (evict < 0) return -1;
    const t = this.table;
    const sn = staticNameIndexOf(name);
    if (sn >= 0) {
      writeInsertWithNameRef(this.#out, true, sn, value, this.huffman);
    } else {
      const dn = this.#byName.get(name);
      // The name's entry must survive until the insertion (RFC 9204 §3.2.2 allows it anyway).
      if (dn !== undefined && t.has(dn))
        writeInsertWithNameRef(this.#out, false, t.insertCount - 1 - dn, value, this.huffman);
      else writeInsertWithLiteralName(this.#out, name, value, this.huffman);
    }
    this.#forgetEvicted(evict);
    const abs = t.insert(name, value);
    this.#byField.set(`${name}\0${value}`, abs);
    this.#byName.set(name, abs);
    return canBlock ? abs : -1;
  }

  /** Duplicates an existing entry (RFC 9204 §4.3.4); exposed for tests and future heuristics. */
  duplicate(abs: number): number {
    const t = this.table;
    if (!t.has(abs)) throw new RangeError('no such dynamic table entry');
    const name = t.name(abs);
    const value = t.value(abs);
    const evict = this.#evictionCount(entrySize(name, value));
    if (evict < 0) return -1;
    writeDuplicate(this.#out, t.insertCount - 1 - abs);
    this.#forgetEvicted(evict);
    const n = t.insert(name, value);
    this.#byField.set(`${name}\0${value}`, n);
    this.#byName.set(name, n);
    return n;
  }

  /**
   * Number of entries an insertion of `size` octets evicts, or -1 if one of them is not
   * evictable (acknowledged and unreferenced, RFC 9204 §2.1.1) or the entry cannot fit.
   */
  #evictionCount(size: number): number {
    const t = this.table;
    if (size > t.capacity) return -1;
    let free = t.capacity - t.size;
    let abs = t.dropped;
    while (free < size) {
      if (abs >= this.#knownReceivedCount || (this.#refs.get(abs) ?? 0) > 0) return -1;
      free += t.sizeOf(abs);
      abs++;
    }
    return abs - t.dropped;
  }

  #forgetEvicted(count: number): void {
    const t = this.table;
    for (let abs = t.dropped; abs < t.dropped + count; abs++) {
      const name = t.name(abs);
      const key = `${name}\0${t.value(abs)}`;
      if (this.#byField.get(key) === abs) this.#byField.delete(key);
      if (this.#byName.get(name) === abs) this.#byName.delete(name);
    }
  }

  #ref(abs: number): void {
    this.#refs.set(abs, (this.#refs.get(abs) ?? 0) + 1);
  }

  #unref(refs: number[]): void {
    for (const abs of refs) {
      const n = (this.#refs.get(abs) ?? 1) - 1;
      if (n <= 0) this.#refs.delete(abs);
      else this.#refs.set(abs, n);
    }
  }
}
