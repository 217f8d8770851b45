// `npm run bench`: every benchmark in one bounded run (about a minute), printed as compact tables.
//   (a) the raw UDP ceiling of Node on this machine (bench/loopback-udp.ts),
//   (b) 200 MiB HTTP/3 downloads over loopback: ours<->ours, gtlsclient<-ours, ngtcp2<->ngtcp2
//       (bench/loopback.ts),
//   (c) the sans-IO core alone (bench/core.ts) and migration switch-over (bench/migration.ts).
//   node dist/bench/run.js [MiB]
import os from 'node:os';
import { runCoreBench } from './core.js';
import { formatLoopback, runLoopbackBench, table } from './loopback.js';
import { runUdpCeiling } from './loopback-udp.js';
import { clientMigrate, natRebinding } from './migration.js';

const mib = Number(process.argv[2] ?? 200);
const t0 = performance.now();
const cpus = os.cpus();
console.log(
  `feather-quic benchmarks — Node ${process.version}, ${cpus.length} × ${cpus[0]?.model.trim() ?? 'CPU'}, ${os.platform()} ${os.release()}\n`,
);

console.log('(a) raw UDP over loopback: one Node process blasting datagrams to another (node:dgram)');
const udp = [];
for (const size of [1452, 16384]) {
  const r = await runUdpCeiling(2, size);
  udp.push([
    String(r.size),
    (r.sentPerSecond / 1000).toFixed(0),
    (r.receivedPerSecond / 1000).toFixed(0),
    r.receivedMbps.toFixed(0),
    r.lossPercent.toFixed(1),
    `${r.senderCpuPercent.toFixed(0)}% / ${r.receiverCpuPercent.toFixed(0)}%`,
  ]);
}
console.log(
  table(['datagram octets', 'sent k/s', 'received k/s', 'received Mbit/s', 'loss %', 'CPU send / recv'], udp),
);
console.log('(our endpoints use 16 KiB datagrams on loopback after DPLPMTUD; ngtcp2 uses 1452)\n');

console.log(`(b) ${mib} MiB download over loopback, separate processes, sha256 checked`);
console.log(formatLoopback(await runLoopbackBench(mib)));
console.log('(goodput over the client process lifetime; CPU = user+system of client and server processes)\n');

console.log('(c) sans-IO core in memory (64 MiB download, both endpoints in one process)');
const core = [];
for (const cc of ['cubic', 'newreno'] as const) {
  const r = runCoreBench(64, cc);
  core.push([cc, r.cpuMsPerMib.toFixed(1), r.goodputMbps.toFixed(0)]);
}
console.log(table(['congestion control', 'CPU ms/MiB (both)', 'CPU-bound goodput Mbit/s'], core));
console.log('');
console.log('(c) migration switch-over on the simulator (40 Mbit/s, 20 ms RTT)');
const fmt = (xs: number[]): string => xs.map((x) => x.toFixed(0)).join(' ');
const m = clientMigrate();
const n = natRebinding();
console.log(
  table(
    ['event', 'switch-over ms', 'goodput Mbit/s per 100 ms, -500..+500 ms'],
    [
      ['client migrate() -> first data on new path', m.switchOverMs.toFixed(1), fmt(m.goodputMbps)],
      ['NAT rebinding -> server sends to new address', n.switchOverMs.toFixed(1), fmt(n.goodputMbps)],
    ],
  ),
);
console.log(`\ntotal ${((performance.now() - t0) / 1000).toFixed(1)} s`);
