import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Events, QuicSim } from '../sim/quic.js';

test('handshake completes on a clean 10 ms link', () => {
  const q = new QuicSim({ seed: 1, link: { delay: 10_000 } });
  const { client, server } = q.handshake();
  assert.equal(client.alpn, 'test');
  assert.equal(server.alpn, 'test');
  const ev = new Events(client);
  q.runUntil(() => ev.has('handshake-confirmed'));
  assert.ok(client.handshakeConfirmed);
  q.amplification?.assertNoViolations();
});
