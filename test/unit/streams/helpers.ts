// Shared helpers for the stream tests: configurations and an in-memory packet exchange that
// encodes through BufferWriter and decodes through BufferReader/decodeFrame.
import { SeededRandom } from '../../../src/common/random.js';
import type {
  PeerStreamLimits,
  StreamManagerConfig,
  StreamRecord,
} from '../../../src/streams/stream-manager.js';
import { StreamManager } from '../../../src/streams/stream-manager.js';
import { decodeFrame, type Frame } from '../../../src/wire/frames.js';
import { BufferReader } from '../../../src/wire/reader.js';
import { BufferWriter } from '../../../src/wire/writer.js';

export function config(
  role: 'client' | 'server',
  over: Partial<StreamManagerConfig> = {},
): StreamManagerConfig {
  return {
    role,
    maxStreamsBidi: 100,
    maxStreamsUni: 100,
    initialMaxData: 1_000_000,
    initialMaxStreamDataBidiLocal: 100_000,
    initialMaxStreamDataBidiRemote: 100_000,
    initialMaxStreamDataUni: 100_000,
    maxConnectionWindow: 16_000_000,
    maxStreamWindow: 4_000_000,
    sendBufferLimit: 1_000_000,
    ...over,
  };
}

/** The transport parameters a manager with `c` would send. */
export function limitsOf(c: StreamManagerConfig): PeerStreamLimits {
  return {
    initialMaxData: c.initialMaxData,
    initialMaxStreamDataBidiLocal: c.initialMaxStreamDataBidiLocal,
    initialMaxStreamDataBidiRemote: c.initialMaxStreamDataBidiRemote,
    initialMaxStreamDataUni: c.initialMaxStreamDataUni,
    initialMaxStreamsBidi: c.maxStreamsBidi,
    initialMaxStreamsUni: c.maxStreamsUni,
  };
}

export function pair(
  clientOver: Partial<StreamManagerConfig> = {},
  serverOver: Partial<StreamManagerConfig> = {},
): { client: StreamManager; server: StreamManager } {
  const cc = config('client', clientOver);
  const sc = config('server', serverOver);
  const client = new StreamManager(cc);
  const server = new StreamManager(sc);
  client.setPeerLimits(limitsOf(sc));
  server.setPeerLimits(limitsOf(cc));
  return { client, server };
}

export function decodeAll(payload: Uint8Array): Frame[] {
  const r = new BufferReader(payload);
  const frames: Frame[] = [];
  while (!r.done) frames.push(decodeFrame(r));
  return frames;
}

export interface Packet {
  payload: Uint8Array;
  records: StreamRecord[];
}

/** Builds one packet of at most `size` octets; undefined when nothing was written. */
export function buildPacket(m: StreamManager, size: number, now: number): Packet | undefined {
  const w = new BufferWriter(new Uint8Array(size));
  const records: StreamRecord[] = [];
  m.writeFrames(w, records, now);
  if (w.offset === 0) return undefined;
  return { payload: w.finish(), records };
}

/** Delivers a packet: frames to `to`, then acks to `from`. */
export function deliver(from: StreamManager, to: StreamManager, p: Packet, now: number): void {
  for (const f of decodeAll(p.payload)) to.onFrame(f, now);
  for (const r of p.records) from.onAcked(r);
}

/** Sends everything pending from `from` to `to` without loss. Returns the packets. */
export function flush(from: StreamManager, to: StreamManager, now = 0, size = 1200): Packet[] {
  const out: Packet[] = [];
  for (let i = 0; i < 100_000 && from.hasPendingFrames(); i++) {
    const p = buildPacket(from, size, now);
    if (!p) break;
    out.push(p);
    deliver(from, to, p, now);
  }
  return out;
}

export function streamData(id: number, length: number, salt = 0): Uint8Array {
  const b = new Uint8Array(length);
  new SeededRandom(id * 7919 + salt).fill(b);
  return b;
}

/** Reads everything currently readable on `id`. */
export function readAll(m: StreamManager, id: number, now = 0): { data: Uint8Array; fin: boolean } {
  const parts: Uint8Array[] = [];
  let fin = false;
  for (let r = m.read(id, 1 << 30, now); r; r = fin ? undefined : m.read(id, 1 << 30, now)) {
    parts.push(r.data);
    fin = r.fin;
  }
  return { data: concat(parts), fin };
}

export function concat(parts: Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}
