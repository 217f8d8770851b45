// Handshakes on hostile links (issue 3: 30% loss each way, 10% corruption, across seeds).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Events, QuicSim } from '../sim/quic.js';
import { forEachSeed } from '../sim/seeds.js';

test('handshake completes and is confirmed on a clean 10 ms link', () => {
  const q = new QuicSim({ seed: 1, link: { delay: 10_000 } });
  const { client, server } = q.handshake();
  assert.equal(client.alpn, 'test');
  assert.equal(server.alpn, 'test');
  const ev = new Events(client);
  q.runUntil(() => ev.has('handshake-confirmed'));
  assert.ok(client.handshakeConfirmed && server.handshakeConfirmed);
  assert.equal(client.tls.resumed, false);
});

test('handshake completes under 30% random loss in each direction', () => {
  forEachSeed([11, 12, 13, 14, 15, 16, 17, 18], (seed) => {
    const q = new QuicSim({ seed, link: { delay: 20_000, loss: 0.3 } });
    const { client, server } = q.handshake({}, 120_000_000);
    assert.ok(client.handshakeComplete && server.handshakeComplete, `seed ${seed}`);
    // And the connection is usable: confirmed on both sides.
    q.runUntil(() => client.handshakeConfirmed, 120_000_000);
  });
});

test('handshake completes under 10% corruption in each direction', () => {
  forEachSeed([21, 22, 23, 24, 25, 26], (seed) => {
    const q = new QuicSim({ seed, link: { delay: 15_000, corrupt: 0.1 } });
    const { client, server } = q.handshake({}, 120_000_000);
    assert.ok(client.handshakeComplete && server.handshakeComplete);
    assert.equal(client.state, 'established');
    assert.equal(server.state, 'established');
  });
});

test('handshake completes over reordering and duplication', () => {
  forEachSeed([31, 32, 33], (seed) => {
    const q = new QuicSim({
      seed,
      link: {
        delay: 15_000,
        jitter: 10_000,
        reorder: { probability: 0.3, extraDelay: 20_000 },
        duplicate: 0.2,
      },
    });
    const { client } = q.handshake();
    q.runUntil(() => client.handshakeConfirmed);
  });
});
