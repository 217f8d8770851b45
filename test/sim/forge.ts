// Test packet encoder: forges packets of a client connection from the secrets in its key log,
// so tests can make a peer break a rule with exact frames on an exact path (after ngtcp2's
// test packet encoder). Black box: it uses only the wire format and the key log.
import type { Path } from '../../src/common/addr.js';
import { fromHex } from '../../src/common/bytes.js';
import type { Connection } from '../../src/connection/connection.js';
import { AEAD_TAG_LENGTH } from '../../src/protection/aead.js';
import type { CipherSuite } from '../../src/protection/cipher-suites.js';
import { deriveInitialKeys } from '../../src/protection/initial.js';
import { protectPacket } from '../../src/protection/packet.js';
import { derivePacketKeys, type PacketKeys } from '../../src/protection/packet-keys.js';
import { encodeFrame, type Frame } from '../../src/wire/frames.js';
import { patchLength, writeLongHeader, writeShortHeader } from '../../src/wire/header.js';
import { BufferWriter } from '../../src/wire/writer.js';
import type { QuicSim } from './quic.js';

/** Collects NSS key log lines; pass `keyLog` to the client endpoint. */
export class KeyLog {
  readonly lines: string[] = [];
  readonly keyLog = (line: string): void => {
    this.lines.push(line);
  };

  secret(label: string): Uint8Array {
    const line = [...this.lines].reverse().find((l) => l.startsWith(`${label} `));
    if (!line) throw new Error(`no ${label} in the key log`);
    return fromHex(line.split(' ')[2]!);
  }
}

export interface ForgeOptions {
  /** Packet number; pick one above anything the client sent (default 1_000_000 + n). */
  pn?: number;
  dcid: Uint8Array;
  keyPhase?: 0 | 1;
  /** Raw octets appended after the frames (e.g. random bytes to fuzz the frame parser). */
  raw?: Uint8Array;
}

let forged = 0;

/** Frames in a 1-RTT packet protected with the client's current application keys. */
export function forgeOneRtt(conn: Connection, log: KeyLog, frames: Frame[], o: ForgeOptions): Uint8Array {
  const suite = conn.tls.cipherSuite as CipherSuite;
  const keys = derivePacketKeys(suite, log.secret('CLIENT_TRAFFIC_SECRET_0'), conn.version);
  return seal(
    keys,
    frames,
    o.pn ?? 1_000_000 + forged++,
    (w) => writeShortHeader(w, { dcid: o.dcid, pnLength: 4, keyPhase: o.keyPhase ?? 0, spin: false }),
    o.raw,
  );
}

/** Frames in an Initial packet from the client (keys derived from its original DCID). */
export function forgeInitial(
  conn: Connection,
  frames: Frame[],
  o: ForgeOptions & { scid: Uint8Array },
): Uint8Array {
  const keys = deriveInitialKeys(conn.version, conn.originalDcid).client;
  const buf = new Uint8Array(1200);
  const w = new BufferWriter(buf, 0, buf.length - AEAD_TAG_LENGTH);
  const h = writeLongHeader(w, {
    type: 'initial',
    version: conn.version,
    dcid: o.dcid,
    scid: o.scid,
    pnLength: 4,
  });
  w.reserve(4);
  for (const f of frames) encodeFrame(w, f);
  w.zeros(w.remaining); // PADDING to 1200 octets (RFC 9000 §14.1)
  patchLength(buf, h.lengthOffset, w.offset - h.pnOffset + AEAD_TAG_LENGTH);
  const end = protectPacket(buf, 0, h.pnOffset, 4, w.offset, o.pn ?? 1000 + forged++, keys);
  return buf.subarray(0, end);
}

function seal(
  keys: PacketKeys,
  frames: Frame[],
  pn: number,
  header: (w: BufferWriter) => number,
  raw?: Uint8Array,
): Uint8Array {
  const buf = new Uint8Array(1500);
  const w = new BufferWriter(buf, 0, buf.length - AEAD_TAG_LENGTH);
  const pnOffset = header(w);
  w.reserve(4);
  for (const f of frames) encodeFrame(w, f);
  if (raw) w.bytes(raw);
  if (w.offset - pnOffset < 8) w.zeros(8 - (w.offset - pnOffset));
  const end = protectPacket(buf, 0, pnOffset, 4, w.offset, pn, keys);
  return buf.subarray(0, end);
}

/** Delivers a forged datagram to the server as if the client sent it on `path` (client view). */
export function injectToServer(q: QuicSim, data: Uint8Array, clientPath?: Path): void {
  const from = clientPath?.local ?? q.clientAddress;
  const to = clientPath?.remote ?? q.serverAddress;
  q.server.handleDatagram(q.now, { local: to, remote: from }, data, 0);
  q.serverHost.wake();
}

/** DCID of the latest client→server short-header datagram (the server's CID the client uses). */
export function trackClientDcid(q: QuicSim, cidLength = 8): () => Uint8Array {
  let dcid: Uint8Array | undefined;
  q.sim.onDatagram((ev) => {
    if (ev.kind !== 'send' || ev.dst.port !== q.serverAddress.port) return;
    const d = ev.data;
    if (d.length > 1 + cidLength && (d[0]! & 0x80) === 0) dcid = d.slice(1, 1 + cidLength);
  });
  return () => {
    if (!dcid) throw new Error('no short-header datagram seen yet');
    return dcid;
  };
}
