import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Payload, QuicSim } from '../sim/quic.js';
import { serveDownloads, startDownload } from '../sim/transfer.js';

test('1 MB download on a clean link is byte-exact', () => {
  const q = new QuicSim({ seed: 2, link: { delay: 15_000, rateBps: 50e6, queueBytes: 256 * 1024 } });
  const payload = new Payload(1_000_000);
  serveDownloads(q, payload);
  const { client } = q.handshake();
  const d = startDownload(q, client, payload);
  q.runUntil(() => d.result() !== undefined);
  const r = d.result()!;
  assert.equal(r.bytes, payload.size);
  assert.equal(r.received, r.expected);
  q.amplification?.assertNoViolations();
});
