// Bulk transfer (issue 3: 10 MB byte-exact on 50 Mbit/s, 30 ms RTT at 0/1/5% loss; ≥ 90% of the
// link rate at 0% loss with NewReno and CUBIC).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { CongestionAlgorithm } from '../../src/recovery/congestion.js';
import { Payload, QuicSim } from '../sim/quic.js';
import { serveDownloads, startDownload } from '../sim/transfer.js';

const LINK = { delay: 15_000, rateBps: 50e6, queueBytes: 200_000 };
const SIZE = 10_000_000;

function download(seed: number, loss: number, cc: CongestionAlgorithm): { seconds: number; mbps: number } {
  const q = new QuicSim({ seed, link: { ...LINK, loss }, serverTransport: { congestionControl: cc } });
  const payload = new Payload(SIZE, seed);
  serveDownloads(q, payload);
  const { client } = q.handshake();
  const d = startDownload(q, client, payload);
  q.runUntil(() => d.result() !== undefined, 600_000_000);
  const r = d.result()!;
  assert.equal(r.bytes, SIZE);
  assert.equal(r.received, r.expected, 'sha256 of the received bytes');
  // Goodput over the transfer: from the server's first byte to the client's last.
  const seconds = (r.finishedAt - r.serverStartedAt) / 1e6;
  return { seconds, mbps: (SIZE * 8) / seconds / 1e6 };
}

for (const cc of ['newreno', 'cubic'] as const) {
  test(`10 MB at 0% loss with ${cc}: byte-exact and ≥ 90% of 50 Mbit/s`, () => {
    const r = download(41, 0, cc);
    assert.ok(r.mbps >= 45, `goodput ${r.mbps.toFixed(1)} Mbit/s`);
  });
  for (const loss of [0.01, 0.05]) {
    test(`10 MB at ${loss * 100}% loss with ${cc}: byte-exact`, () => {
      download(42, loss, cc);
    });
  }
}
