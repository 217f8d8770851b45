// Migration switch-over benchmark on the deterministic simulator (40 Mbit/s, 20 ms RTT):
//  - client migrate(): from the call to the first application byte arriving on the new path;
//  - NAT rebinding: from the rebinding to the server's first packet towards the new address;
//  - goodput in 100 ms buckets around each switch.
//   node dist/bench/migration.js
import { Payload, QuicSim } from '../test/sim/quic.js';
import { serveDownloads, startDownload } from '../test/sim/transfer.js';

const LINK = { delay: 10_000, rateBps: 40e6, queueBytes: 100_000 };
const BUCKET = 100_000;

interface SwitchResult {
  switchOverMs: number;
  goodputMbps: number[];
}

function buckets(log: { t: number; bytes: number }[], center: number): number[] {
  const out: number[] = [];
  for (let b = -5; b < 5; b++) {
    const from = center + b * BUCKET;
    const bytes = log.filter((x) => x.t >= from && x.t < from + BUCKET).reduce((a, x) => a + x.bytes, 0);
    out.push((bytes * 8) / (BUCKET / 1e6) / 1e6);
  }
  return out;
}

export function clientMigrate(): SwitchResult {
  const q = new QuicSim({ seed: 7, link: LINK });
  q.clientHost.addAddress('10.0.0.12');
  const payload = new Payload(20_000_000);
  serveDownloads(q, payload);
  const { client } = q.handshake();
  const d = startDownload(q, client, payload);
  const newLocal = { address: '10.0.0.12', port: 50002 };
  const log: { t: number; bytes: number }[] = [];
  let firstOnNew = 0;
  q.sim.onDatagram((e) => {
    if (e.kind !== 'deliver' || e.src.port !== 4433) return;
    log.push({ t: e.time, bytes: e.size });
    if (firstOnNew === 0 && e.dst.address === newLocal.address && e.size > 1000) firstOnNew = e.time;
  });
  q.runUntil(() => d.reader.received > 5_000_000);
  const t0 = q.now;
  client.probePath(q.now, newLocal, undefined, true);
  q.runUntil(() => firstOnNew > 0 && q.now > t0 + 600_000);
  return { switchOverMs: (firstOnNew - t0) / 1000, goodputMbps: buckets(log, t0) };
}

export function natRebinding(): SwitchResult {
  const q = new QuicSim({ seed: 8, link: LINK, natPublicIp: '192.0.2.1' });
  const payload = new Payload(20_000_000);
  serveDownloads(q, payload);
  const { client } = q.handshake();
  const d = startDownload(q, client, payload);
  const log: { t: number; bytes: number }[] = [];
  let oldPort = 0;
  let firstToNew = 0;
  let t0 = 0;
  q.sim.onDatagram((e) => {
    if (e.src.port === 4433 && e.kind === 'deliver') log.push({ t: e.time, bytes: e.size });
    if (e.src.port === 4433 && e.kind === 'send' && t0 > 0 && firstToNew === 0 && e.dst.port !== oldPort)
      firstToNew = e.time;
  });
  q.runUntil(() => d.reader.received > 5_000_000);
  oldPort = q.nat!.mappings[0]!.public.port;
  t0 = q.now;
  q.nat!.rebindPort();
  q.runUntil(() => firstToNew > 0 && q.now > t0 + 600_000);
  return { switchOverMs: (firstToNew - t0) / 1000, goodputMbps: buckets(log, t0) };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const fmt = (xs: number[]): string => xs.map((x) => x.toFixed(1)).join(' ');
  const m = clientMigrate();
  console.log(
    `client migrate(): ${m.switchOverMs.toFixed(1)} ms from the call to the first data on the new path`,
  );
  console.log(`  goodput Mbit/s per 100 ms, -500..+500 ms around the call: ${fmt(m.goodputMbps)}`);
  const n = natRebinding();
  console.log(
    `NAT rebinding: ${n.switchOverMs.toFixed(1)} ms from the rebinding to the server's first packet to the new address`,
  );
  console.log(`  goodput Mbit/s per 100 ms, -500..+500 ms around the rebinding: ${fmt(n.goodputMbps)}`);
}
