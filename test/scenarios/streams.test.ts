// Many concurrent streams in both directions, byte-exact, with growing flow-control windows
// (issue 3: 100 concurrent streams in each direction; windows grow).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Connection } from '../../src/connection/connection.js';
import { Events, Payload, QuicSim, StreamReader, StreamWriter } from '../sim/quic.js';

const STREAMS = 100;
const PER_STREAM = 64 * 1024;

/** Writes payload i on each of `ids`, reads every peer stream to the end. */
class Exchanger {
  readonly conn: Connection;
  readonly writers: StreamWriter[] = [];
  readonly readers = new Map<number, StreamReader>();
  readonly events: Events;

  constructor(conn: Connection) {
    this.conn = conn;
    this.events = new Events(conn);
  }

  open(count: number, seedBase: number): void {
    for (let i = 0; i < count; i++) {
      const id = this.conn.openStream(true);
      assert.notEqual(id, undefined, 'stream limit reached');
      this.writers.push(new StreamWriter(this.conn, id!, new Payload(PER_STREAM, seedBase + i)));
    }
  }

  pump(): void {
    for (const e of this.events.drain()) {
      if (e.type === 'stream-opened' && !this.readers.has(e.id))
        this.readers.set(e.id, new StreamReader(this.conn, e.id));
    }
    for (const w of this.writers) if (!w.done) w.pump();
    for (const r of this.readers.values()) r.pump();
  }

  get received(): number {
    let n = 0;
    for (const r of this.readers.values()) if (r.finished) n++;
    return n;
  }
}

test('100 concurrent streams each way are byte-exact and flow-control windows grow', () => {
  const small = {
    initialMaxStreamDataBidiLocal: 16 * 1024,
    initialMaxStreamDataBidiRemote: 16 * 1024,
    initialMaxData: 256 * 1024,
    initialMaxStreamsBidi: 128,
  };
  const q = new QuicSim({
    seed: 51,
    link: { delay: 10_000, rateBps: 100e6, queueBytes: 300_000, loss: 0.01 },
    serverTransport: small,
    clientTransport: small,
  });
  const { client, server } = q.handshake();
  const c = new Exchanger(client);
  const s = new Exchanger(server);
  q.onClientActivity = () => c.pump();
  q.onServerActivity = () => s.pump();
  c.open(STREAMS, 1000);
  s.open(STREAMS, 2000);
  q.clientHost.wake();
  q.serverHost.wake();
  q.runUntil(() => c.received === STREAMS && s.received === STREAMS, 300_000_000);
  // Byte-exact: each stream's hash equals its payload's (matched by opening order).
  const expectedFromServer = new Set(
    Array.from({ length: STREAMS }, (_, i) => new Payload(PER_STREAM, 2000 + i).sha256()),
  );
  const expectedFromClient = new Set(
    Array.from({ length: STREAMS }, (_, i) => new Payload(PER_STREAM, 1000 + i).sha256()),
  );
  for (const r of c.readers.values()) {
    assert.equal(r.received, PER_STREAM);
    assert.ok(expectedFromServer.has(r.digest!));
  }
  for (const r of s.readers.values()) {
    assert.equal(r.received, PER_STREAM);
    assert.ok(expectedFromClient.has(r.digest!));
  }
  // Auto-tuning grew the connection window beyond its initial value on both sides.
  assert.ok(client.streams.stats().connRecvWindow > small.initialMaxData, 'client connection window grew');
  assert.ok(server.streams.stats().connRecvWindow > small.initialMaxData, 'server connection window grew');
});
