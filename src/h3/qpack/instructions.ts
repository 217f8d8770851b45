// QPACK encoder-stream (RFC 9204 §4.3) and decoder-stream (§4.4) instructions.
import type { BufferWriter } from '../../wire/writer.js';
import type { HuffmanMode, QpackReader } from './primitives.js';
import { writeInt, writeString } from './primitives.js';

export type EncoderInstruction =
  | { readonly type: 'set-capacity'; readonly capacity: number }
  | {
      readonly type: 'insert-name-ref';
      readonly isStatic: boolean;
      readonly index: number;
      readonly value: string;
    }
  | { readonly type: 'insert-literal'; readonly name: string; readonly value: string }
  | { readonly type: 'duplicate'; readonly index: number };

export type DecoderInstruction =
  | { readonly type: 'section-ack'; readonly streamId: number }
  | { readonly type: 'stream-cancel'; readonly streamId: number }
  | { readonly type: 'insert-count-increment'; readonly increment: number };

/** Reads one encoder instruction; string literals longer than `maxString` octets are errors. */
export function readEncoderInstruction(r: QpackReader, maxString: number): EncoderInstruction {
  const b = r.peek();
  if (b & 0x80) {
    // RFC 9204 §4.3.2 Insert with Name Reference: 1 T Index(6+), Value(8+ string).
    const isStatic = (b & 0x40) !== 0;
    const index = r.int(6);
    const value = r.string(8, maxString);
    return { type: 'insert-name-ref', isStatic, index, value };
  }
  if (b & 0x40) {
    // RFC 9204 §4.3.3 Insert with Literal Name: 01 H NameLen(5+), Value(8+ string).
    const name = r.string(6, maxString);
    const value = r.string(8, maxString);
    return { type: 'insert-literal', name, value };
  }
  // RFC 9204 §4.3.1 Set Dynamic Table Capacity: 001 Capacity(5+); §4.3.4 Duplicate: 000 Index(5+).
  if (b & 0x20) return { type: 'set-capacity', capacity: r.int(5) };
  return { type: 'duplicate', index: r.int(5) };
}

export function readDecoderInstruction(r: QpackReader): DecoderInstruction {
  const b = r.peek();
  // RFC 9204 §4.4.1 Section Acknowledgment: 1 StreamID(7+).
  if (b & 0x80) return { type: 'section-ack', streamId: r.int(7) };
  // RFC 9204 §4.4.2 Stream Cancellation: 01 StreamID(6+).
  if (b & 0x40) return { type: 'stream-cancel', streamId: r.int(6) };
  // RFC 9204 §4.4.3 Insert Count Increment: 00 Increment(6+).
  return { type: 'insert-count-increment', increment: r.int(6) };
}

export function writeSetCapacity(w: BufferWriter, capacity: number): void {
  writeInt(w, 0x20, 5, capacity);
}

export function writeInsertWithNameRef(
  w: BufferWriter,
  isStatic: boolean,
  index: number,
  value: string,
  huffman: HuffmanMode = 'auto',
): void {
  writeInt(w, isStatic ? 0xc0 : 0x80, 6, index);
  writeString(w, 0, 8, value, huffman);
}

export function writeInsertWithLiteralName(
  w: BufferWriter,
  name: string,
  value: string,
  huffman: HuffmanMode = 'auto',
): void {
  writeString(w, 0x40, 6, name, huffman);
  writeString(w, 0, 8, value, huffman);
}

export function writeDuplicate(w: BufferWriter, relativeIndex: number): void {
  writeInt(w, 0x00, 5, relativeIndex);
}

export function writeSectionAck(w: BufferWriter, streamId: number): void {
  writeInt(w, 0x80, 7, streamId);
}

export function writeStreamCancel(w: BufferWriter, streamId: number): void {
  writeInt(w, 0x40, 6, streamId);
}

export function writeInsertCountIncrement(w: BufferWriter, increment: number): void {
  writeInt(w, 0x00, 6, increment);
}

/** Writes any encoder instruction (static-table names by index, dynamic by relative index). */
export function writeEncoderInstruction(
  w: BufferWriter,
  ins: EncoderInstruction,
  huffman: HuffmanMode = 'auto',
): void {
  switch (ins.type) {
    case 'set-capacity':
      writeSetCapacity(w, ins.capacity);
      return;
    case 'insert-name-ref':
      writeInsertWithNameRef(w, ins.isStatic, ins.index, ins.value, huffman);
      return;
    case 'insert-literal':
      writeInsertWithLiteralName(w, ins.name, ins.value, huffman);
      return;
    case 'duplicate':
      writeDuplicate(w, ins.index);
      return;
  }
}

export function writeDecoderInstruction(w: BufferWriter, ins: DecoderInstruction): void {
  switch (ins.type) {
    case 'section-ack':
      writeSectionAck(w, ins.streamId);
      return;
    case 'stream-cancel':
      writeStreamCancel(w, ins.streamId);
      return;
    case 'insert-count-increment':
      writeInsertCountIncrement(w, ins.increment);
      return;
  }
}
