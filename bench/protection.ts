// Micro-benchmark of packet protection: AEAD seal+open, header protection (single and batched)
// and the whole protect/unprotect path, per packet in µs, for the three suites at 1200 and 1452
// octets. Not a test; bounded to a few seconds. Run: node dist/bench/protection.js
import { performance } from 'node:perf_hooks';
import { SeededRandom } from '../src/common/random.js';
import { CIPHER_SUITES, type CipherSuite } from '../src/protection/cipher-suites.js';
import { protectPacket, unprotectPacket } from '../src/protection/packet.js';
import { derivePacketKeys } from '../src/protection/packet-keys.js';
import { QUIC_V1 } from '../src/wire/versions.js';

const BUDGET_MS = 120;
const BATCH = 64;

/** Runs `fn` (which handles `per` packets) repeatedly for about BUDGET_MS; µs per packet. */
function measure(fn: () => void, per = 1): number {
  for (let i = 0; i < 200; i++) fn(); // warm-up
  let n = 0;
  const start = performance.now();
  let now = start;
  while (now - start < BUDGET_MS) {
    for (let i = 0; i < 100; i++) fn();
    n += 100;
    now = performance.now();
  }
  return ((now - start) * 1000) / (n * per);
}

const rng = new SeededRandom(1);
const rows: string[][] = [];
for (const suite of [0x1301, 0x1302, 0x1303] as CipherSuite[]) {
  const info = CIPHER_SUITES[suite];
  const secret = new Uint8Array(info.hashLength);
  rng.fill(secret);
  const tx = derivePacketKeys(suite, secret, QUIC_V1);
  const rx = derivePacketKeys(suite, secret, QUIC_V1);
  for (const size of [1200, 1452]) {
    const pnOffset = 9; // short header, 8-octet DCID
    const payloadEnd = size - 16;
    const buf = new Uint8Array(size);
    rng.fill(buf);
    buf[0] = 0x41;
    let pn = 0;
    const sealOpen = measure(() => {
      const end = tx.aead.seal(buf, 0, pnOffset + 2, payloadEnd, pn);
      rx.aead.open(buf, 0, pnOffset + 2, end, pn);
      pn++;
    });
    const hp = measure(() => {
      tx.hp.apply(buf, 0, pnOffset, false);
      rx.hp.remove(buf, 0, pnOffset, false);
    });
    const samples = new Uint8Array(BATCH * 16);
    rng.fill(samples);
    const hpBatch = measure(() => {
      tx.hp.maskMany(samples, BATCH);
    }, BATCH);
    let largest = -1;
    const full = measure(() => {
      const p = largest + 1;
      const end = protectPacket(buf, 0, pnOffset, 2, payloadEnd, p, tx);
      const r = unprotectPacket(buf, 0, pnOffset, end, rx, largest);
      if (!r) throw new Error('bench packet failed to open');
      largest = p;
    });
    rows.push([
      info.name,
      String(size),
      sealOpen.toFixed(2),
      hp.toFixed(2),
      hpBatch.toFixed(3),
      full.toFixed(2),
    ]);
  }
}

const head = [
  'suite',
  'octets',
  'seal+open µs',
  'HP apply+remove µs',
  'HP mask batched µs',
  'protect+unprotect µs',
];
const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
const line = (r: string[]) => r.map((c, i) => c.padStart(widths[i]!)).join('  ');
console.log(line(head));
for (const r of rows) console.log(line(r));
