// A peer that breaks a rule gets CONNECTION_CLOSE with the RFC's error code (issue 3).
// Each test forges the offending packet from the client's key log and checks both ends.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TransportErrorCode } from '../../src/common/errors.js';
import type { Connection } from '../../src/connection/connection.js';
import type { Frame } from '../../src/wire/frames.js';
import { forgeInitial, forgeOneRtt, injectToServer, KeyLog, trackClientDcid } from '../sim/forge.js';
import { QuicSim } from '../sim/quic.js';

interface Established {
  q: QuicSim;
  client: Connection;
  server: Connection;
  log: KeyLog;
  dcid: () => Uint8Array;
}

function established(seed: number): Established {
  const log = new KeyLog();
  const q = new QuicSim({ seed, link: { delay: 10_000 }, clientEndpoint: { keyLog: log.keyLog } });
  const dcid = trackClientDcid(q);
  const { client, server } = q.handshake();
  q.runUntil(() => client.handshakeConfirmed);
  return { q, client, server, log, dcid };
}

/** Sends `frames` from the client in a 1-RTT packet and checks the close on both sides. */
function expectClose(e: Established, frames: Frame[], code: number, frameType?: number): void {
  injectToServer(e.q, forgeOneRtt(e.client, e.log, frames, { dcid: e.dcid() }));
  e.q.runUntil(() => e.client.closeInfo !== undefined);
  const s = e.server.closeInfo!;
  assert.equal(s.source, 'local');
  assert.equal(s.application, false);
  assert.equal(s.code, code, `server closed with 0x${s.code.toString(16)} (${s.reason})`);
  if (frameType !== undefined) assert.equal(s.frameType, frameType);
  const c = e.client.closeInfo!;
  assert.equal(c.source, 'remote');
  assert.equal(c.code, code, 'the client received the same code in CONNECTION_CLOSE');
  e.q.runUntil(() => e.server.isClosed && e.client.isClosed, 10_000_000);
}

test('frame in the wrong packet type: STREAM in an Initial packet → PROTOCOL_VIOLATION', () => {
  const q = new QuicSim({ seed: 81, link: { delay: 10_000 } });
  const client = q.connect();
  q.runUntil(() => q.accepted.length === 1);
  const server = q.accepted[0]!;
  const data = forgeInitial(
    client,
    [{ type: 'stream', streamId: 0, offset: 0, data: new Uint8Array(4), fin: false }],
    {
      dcid: client.originalDcid,
      scid: client.initialScid,
    },
  );
  injectToServer(q, data);
  q.runUntil(() => server.closeInfo !== undefined);
  assert.equal(server.closeInfo!.code, TransportErrorCode.PROTOCOL_VIOLATION);
  assert.equal(server.closeInfo!.frameType & ~7, 0x08);
  q.runUntil(() => client.closeInfo !== undefined);
  assert.equal(client.closeInfo!.code, TransportErrorCode.PROTOCOL_VIOLATION);
});

test('HANDSHAKE_DONE from a client → PROTOCOL_VIOLATION', () => {
  expectClose(established(82), [{ type: 'handshake_done' }], TransportErrorCode.PROTOCOL_VIOLATION, 0x1e);
});

test('stream beyond the limit → STREAM_LIMIT_ERROR', () => {
  const e = established(83);
  // Our limit is 100 client bidi streams: stream 4 * 100 is the 101st.
  expectClose(
    e,
    [{ type: 'stream', streamId: 400, offset: 0, data: new Uint8Array(1), fin: false }],
    TransportErrorCode.STREAM_LIMIT_ERROR,
  );
});

test('data beyond stream flow control → FLOW_CONTROL_ERROR', () => {
  const e = established(84);
  const window = e.server.localParameters.initialMaxStreamDataBidiRemote;
  expectClose(
    e,
    [{ type: 'stream', streamId: 0, offset: window, data: new Uint8Array(10), fin: false }],
    TransportErrorCode.FLOW_CONTROL_ERROR,
  );
});

test('final size change → FINAL_SIZE_ERROR', () => {
  const e = established(85);
  injectToServer(
    e.q,
    forgeOneRtt(
      e.client,
      e.log,
      [{ type: 'stream', streamId: 4, offset: 0, data: new Uint8Array(10), fin: true }],
      { dcid: e.dcid() },
    ),
  );
  expectClose(
    e,
    [{ type: 'reset_stream', streamId: 4, errorCode: 1, finalSize: 20 }],
    TransportErrorCode.FINAL_SIZE_ERROR,
  );
});

test('ACK of a packet never sent → PROTOCOL_VIOLATION', () => {
  const e = established(86);
  expectClose(
    e,
    [{ type: 'ack', largest: 5_000_000, ackDelay: 0, ranges: [5_000_000, 5_000_000], ecn: undefined }],
    TransportErrorCode.PROTOCOL_VIOLATION,
  );
});

test('STREAM on a receive-only (server-initiated unidirectional) stream → STREAM_STATE_ERROR', () => {
  const e = established(87);
  expectClose(
    e,
    [{ type: 'stream', streamId: 3, offset: 0, data: new Uint8Array(1), fin: false }],
    TransportErrorCode.STREAM_STATE_ERROR,
  );
});

test('RETIRE_CONNECTION_ID of a sequence never issued → PROTOCOL_VIOLATION', () => {
  expectClose(
    established(88),
    [{ type: 'retire_connection_id', sequence: 99 }],
    TransportErrorCode.PROTOCOL_VIOLATION,
  );
});

test('too many NEW_CONNECTION_IDs → CONNECTION_ID_LIMIT_ERROR', () => {
  const e = established(89);
  const frames: Frame[] = [];
  for (let i = 10; i < 20; i++) {
    frames.push({
      type: 'new_connection_id',
      sequence: i,
      retirePriorTo: 0,
      connectionId: new Uint8Array(8).fill(i),
      resetToken: new Uint8Array(16).fill(i),
    });
  }
  expectClose(e, frames, TransportErrorCode.CONNECTION_ID_LIMIT_ERROR);
});

test('malformed frame (MAX_STREAMS above 2^60) → FRAME_ENCODING_ERROR', () => {
  const e = established(90);
  // RFC 9000 §19.11: a maximum above 2^60 is a FRAME_ENCODING_ERROR.
  expectClose(
    e,
    [{ type: 'max_streams', bidi: true, maximum: 2 ** 61 }],
    TransportErrorCode.FRAME_ENCODING_ERROR,
  );
});

test('CID transport parameter mismatch (initial_source_connection_id) → closes the handshake', () => {
  // An on-path rewriter changes the SCID of the client's first Initial: the server then sees an
  // initial_source_connection_id that does not match the packet (RFC 9000 §7.3).
  const q = new QuicSim({ seed: 91, link: { delay: 10_000 } });
  const client = q.connect();
  // Every client Initial (v1 long header type 0: first octet 0xc?) gets the rewritten SCID.
  q.sim.link(q.clientAddress.address, q.serverAddress.address).intercept((dg) => {
    if ((dg.data[0]! & 0xf0) !== 0xc0) return;
    dg.data = forgeInitialRewrite(client, dg.data);
  });
  q.runUntil(() => q.accepted[0]?.closeInfo !== undefined);
  const server = q.accepted[0]!;
  assert.equal(server.closeInfo!.source, 'local');
  assert.ok(
    [TransportErrorCode.TRANSPORT_PARAMETER_ERROR, TransportErrorCode.PROTOCOL_VIOLATION].includes(
      server.closeInfo!.code as 8 | 10,
    ),
    `server closed with 0x${server.closeInfo!.code.toString(16)}`,
  );
  // The server's CONNECTION_CLOSE goes to the rewritten CID, which the client never issued:
  // the client cannot complete the handshake and gives up on its idle timer.
  q.runUntil(() => client.closeInfo !== undefined);
  assert.equal(client.handshakeComplete, false);
  assert.equal(client.closeInfo!.source, 'idle');
});

/** Re-encrypts the client's first Initial with a different SCID (same length). */
function forgeInitialRewrite(client: Connection, datagram: Uint8Array): Uint8Array {
  // Decrypt with the client's initial keys, then re-forge the CRYPTO payload under a new SCID.
  const { unprotectPacket } = protection;
  const keys = initialKeys(client);
  const buf = new Uint8Array(datagram);
  const dcidLen = buf[5]!;
  const scidLen = buf[6 + dcidLen]!;
  const scidOff = 7 + dcidLen;
  let off = scidOff + scidLen;
  const tokenLen = buf[off]!; // 1-octet varint for short tokens (client Initials carry none)
  off += 1 + tokenLen;
  const lenFirst = buf[off]!;
  const lenBytes = 1 << (lenFirst >> 6);
  const pnOffset = off + lenBytes;
  const u = unprotectPacket(buf, 0, pnOffset, buf.length, keys, -1)!;
  const frames = decodeAll(u.payload);
  const scid = new Uint8Array(scidLen).fill(0xaa);
  return forgeInitial(client, frames, { dcid: client.originalDcid, scid, pn: u.pn });
}

import { deriveInitialKeys } from '../../src/protection/initial.js';
import * as protection from '../../src/protection/packet.js';
import { decodeFrame } from '../../src/wire/frames.js';
import { BufferReader } from '../../src/wire/reader.js';

function initialKeys(client: Connection) {
  return deriveInitialKeys(client.version, client.originalDcid).client;
}

function decodeAll(payload: Uint8Array): Frame[] {
  const r = new BufferReader(payload);
  const out: Frame[] = [];
  while (!r.done) {
    const f = decodeFrame(r);
    if (f.type !== 'padding') out.push(f.type === 'crypto' ? { ...f, data: new Uint8Array(f.data) } : f);
  }
  return out;
}
