// Two StreamManagers exchanging encoded frames in memory: random loss, reordering, duplication
// and lost acknowledgements; fairness of the scheduler; memory with 100k sequential streams.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SeededRandom } from '../../../src/common/random.js';
import type { StreamManager, StreamRecord } from '../../../src/streams/stream-manager.js';
import { BufferWriter } from '../../../src/wire/writer.js';
import { buildPacket, concat, decodeAll, flush, type Packet, pair, readAll, streamData } from './helpers.js';

interface Flight {
  at: number;
  from: StreamManager;
  to: StreamManager;
  packet: Packet;
  /** 'deliver' a packet, or hand its records back as 'ack' / 'loss'. */
  kind: 'deliver' | 'ack' | 'loss';
}

interface Side {
  m: StreamManager;
  /** Data still to write per stream. */
  writing: Map<number, { data: Uint8Array; off: number }>;
  /** The peer's streams (and our bidirectional ones) still being read. */
  incoming: Set<number>;
  received: Map<number, Uint8Array[]>;
  finished: Set<number>;
}

function lengthFor(id: number, salt: number): number {
  return ((id + 1) * 7919 * (salt + 3)) % 30_001;
}

function runExchange(seed: number): void {
  const rng = new SeededRandom(seed);
  const { client, server } = pair(
    {
      maxStreamsUni: 8,
      initialMaxData: 50_000,
      initialMaxStreamDataBidiLocal: 6000,
      initialMaxStreamDataUni: 6000,
      maxStreamWindow: 64_000,
      maxConnectionWindow: 256_000,
      sendBufferLimit: 8000,
    },
    {
      maxStreamsBidi: 10,
      initialMaxData: 40_000,
      initialMaxStreamDataBidiRemote: 5000,
      maxStreamWindow: 64_000,
      maxConnectionWindow: 256_000,
      sendBufferLimit: 8000,
    },
  );
  client.setSmoothedRtt(20_000);
  server.setSmoothedRtt(20_000);
  const c: Side = {
    m: client,
    writing: new Map(),
    incoming: new Set(),
    received: new Map(),
    finished: new Set(),
  };
  const s: Side = {
    m: server,
    writing: new Map(),
    incoming: new Set(),
    received: new Map(),
    finished: new Set(),
  };
  const flights: Flight[] = [];
  /** Frame types delivered, and packets lost, to check the run exercised the machinery. */
  const seen = new Map<string, number>();
  let lostPackets = 0;
  let clientOpened = 0;
  let serverOpened = 0;
  const N = 100;
  let now = 0;

  const pump = (side: Side): void => {
    for (const [id, w] of side.writing) {
      w.off += side.m.write(id, w.data.subarray(w.off), true);
      if (w.off === w.data.length) side.writing.delete(id);
    }
  };
  /** Handles events and reads everything readable from the peer's streams. */
  const drain = (side: Side): void => {
    for (let e = side.m.pollEvent(); e; e = side.m.pollEvent()) {
      if (e.type === 'opened') {
        side.incoming.add(e.id);
        // The server answers every client bidirectional stream.
        if (side === s && e.id % 4 === 0) {
          side.writing.set(e.id, { data: streamData(e.id, lengthFor(e.id, 2), 2), off: 0 });
        }
      } else if (e.type === 'reset' || e.type === 'stop-sending') {
        assert.fail(`seed ${seed}: unexpected ${e.type} on ${e.id}`);
      }
    }
    for (const id of side.incoming) {
      const r = readAll(side.m, id, now);
      const parts = side.received.get(id) ?? [];
      if (r.data.length > 0) parts.push(r.data);
      side.received.set(id, parts);
      if (r.fin) {
        side.finished.add(id);
        side.incoming.delete(id);
      }
    }
  };

  for (let step = 0; step < 200_000; step++) {
    now += 1000;
    // Applications: open streams while the peer allows, keep writing, read everything.
    while (clientOpened < N) {
      const id = client.open(true);
      if (id === undefined) break;
      clientOpened++;
      c.writing.set(id, { data: streamData(id, lengthFor(id, 1), 1), off: 0 });
      c.incoming.add(id);
    }
    while (serverOpened < N) {
      const id = server.open(false);
      if (id === undefined) break;
      serverOpened++;
      s.writing.set(id, { data: streamData(id, lengthFor(id, 3), 3), off: 0 });
    }
    pump(c);
    pump(s);
    drain(c);
    drain(s);
    // Each side sends a few packets.
    for (const [from, to] of [
      [client, server],
      [server, client],
    ] as const) {
      for (let k = 0; k < 4 && from.hasPendingFrames(); k++) {
        const packet = buildPacket(from, 200 + rng.int(1300), now);
        if (!packet) break;
        const lost = rng.next() < 0.1;
        flights.push({ at: now + 5000 + rng.int(10_000), from, to, packet, kind: lost ? 'loss' : 'deliver' });
      }
    }
    // The network: deliver what is due (in random order), acknowledge or declare lost.
    const due = flights.filter((f) => f.at <= now);
    if (due.length > 0) {
      for (let i = flights.length - 1; i >= 0; i--) if (flights[i]!.at <= now) flights.splice(i, 1);
      for (let i = due.length; i > 1; i--) {
        const j = rng.int(i);
        [due[i - 1], due[j]] = [due[j]!, due[i - 1]!];
      }
      for (const f of due) {
        if (f.kind === 'loss') {
          lostPackets++;
          for (const r of f.packet.records) f.from.onLost(r);
        } else if (f.kind === 'ack') {
          for (const r of f.packet.records) f.from.onAcked(r);
        } else {
          const frames = decodeAll(f.packet.payload);
          for (const fr of frames) seen.set(fr.type, (seen.get(fr.type) ?? 0) + 1);
          for (const fr of frames) f.to.onFrame(fr, now);
          if (rng.next() < 0.03) for (const fr of frames) f.to.onFrame(fr, now); // duplicated
          // The acknowledgement itself may be lost: the sender then retransmits spuriously.
          const ackLost = rng.next() < 0.05;
          flights.push({ ...f, at: now + 5000 + rng.int(10_000), kind: ackLost ? 'loss' : 'ack' });
        }
      }
    }
    const done =
      clientOpened === N &&
      serverOpened === N &&
      c.finished.size === 2 * N &&
      s.finished.size === N &&
      flights.length === 0 &&
      !client.hasPendingFrames() &&
      !server.hasPendingFrames();
    if (done) break;
  }

  assert.equal(c.finished.size, 2 * N, `seed ${seed}: client received every stream`);
  assert.equal(s.finished.size, N, `seed ${seed}: server received every stream`);
  for (const [id, parts] of s.received) {
    assert.deepEqual(
      concat(parts),
      streamData(id, lengthFor(id, 1), 1),
      `seed ${seed}: client→server stream ${id}`,
    );
  }
  for (const [id, parts] of c.received) {
    const salt = id % 4 === 0 ? 2 : 3;
    assert.deepEqual(
      concat(parts),
      streamData(id, lengthFor(id, salt), salt),
      `seed ${seed}: server→client stream ${id}`,
    );
  }
  assert.ok(lostPackets > 100, `seed ${seed}: ${lostPackets} packets lost`);
  for (const t of ['max_data', 'max_stream_data', 'max_streams', 'streams_blocked']) {
    assert.ok(seen.has(t), `seed ${seed}: no ${t} frame was exchanged`);
  }
  assert.equal(client.stats().openStreams, 0, 'all client streams forgotten');
  assert.equal(server.stats().openStreams, 0, 'all server streams forgotten');
  assert.equal(client.stats().sendBufferedBytes, 0);
  assert.ok(server.stats().localMaxStreamsBidi >= N, 'stream credit was re-issued');
}

describe('StreamManager two-party exchange', () => {
  for (const seed of [1, 2, 3]) {
    it(`100 streams each direction arrive byte-exact under loss, reordering and duplication (seed ${seed})`, () => {
      runExchange(seed);
    });
  }

  it('shares the packets fairly between two busy streams (round-robin)', () => {
    const { client } = pair({}, { initialMaxData: 100_000_000, initialMaxStreamDataBidiRemote: 100_000_000 });
    const a = client.open(true)!;
    const b = client.open(true)!;
    client.write(a, new Uint8Array(2_000_000), false);
    client.write(b, new Uint8Array(2_000_000), false);
    const sent = new Map<number, number>([
      [a, 0],
      [b, 0],
    ]);
    const order: number[] = [];
    for (let i = 0; i < 500; i++) {
      const w = new BufferWriter(new Uint8Array(1200));
      const records: StreamRecord[] = [];
      client.writeFrames(w, records, 0);
      for (const r of records) {
        if (r.kind !== 'stream') continue;
        sent.set(r.id, sent.get(r.id)! + r.length);
        order.push(r.id);
      }
    }
    const sa = sent.get(a)!;
    const sb = sent.get(b)!;
    assert.ok(Math.abs(sa - sb) / (sa + sb) < 0.01, `shares ${sa} vs ${sb}`);
    // Each packet is one stream's turn: they alternate.
    for (let i = 1; i < order.length; i++) assert.notEqual(order[i], order[i - 1]);
  });

  it('a stream that runs dry mid-packet lets the next one fill the packet', () => {
    const { client } = pair();
    const a = client.open(true)!;
    const b = client.open(true)!;
    client.write(a, new Uint8Array(100), false);
    client.write(b, new Uint8Array(5000), false);
    const w = new BufferWriter(new Uint8Array(1200));
    const records: StreamRecord[] = [];
    client.writeFrames(w, records, 0);
    assert.deepEqual(
      records.map((r) => (r.kind === 'stream' ? r.id : -1)),
      [a, b],
    );
    assert.equal(w.offset, 1200);
  });

  it('memory stays bounded with 100k streams opened and closed sequentially', () => {
    const { client, server } = pair({}, { maxStreamsBidi: 4 });
    const request = Uint8Array.of(1, 2, 3, 4);
    const reply = Uint8Array.of(5, 6, 7);
    for (let i = 0; i < 100_000; i++) {
      const id = client.open(true);
      assert.notEqual(id, undefined, `stream ${i} could not be opened`);
      client.write(id!, request, true);
      flush(client, server, i, 200);
      for (let e = server.pollEvent(); e; e = server.pollEvent());
      assert.deepEqual(server.read(id!, 100, i), { data: request, fin: true });
      server.write(id!, reply, true);
      flush(server, client, i, 200);
      for (let e = client.pollEvent(); e; e = client.pollEvent());
      assert.deepEqual(client.read(id!, 100, i), { data: reply, fin: true });
      flush(client, server, i, 200);
      if (i % 10_000 === 0) {
        assert.ok(client.stats().openStreams <= 1);
        assert.ok(server.stats().openStreams <= 1);
      }
    }
    assert.equal(client.stats().openStreams, 0);
    assert.equal(server.stats().openStreams, 0);
    assert.equal(server.stats().localMaxStreamsBidi, 100_004, 'credit re-issued for every closed stream');
    assert.equal(client.hasPendingFrames(), false);
    assert.equal(server.hasPendingFrames(), false);
  });
});
