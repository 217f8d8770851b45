// Benchmark of the sans-IO core alone: a client and a server endpoint exchange datagrams in
// memory (simulated 10 Gbit/s, 1 ms link: never the bottleneck), one 64 MiB download.
// Reports CPU time per MiB for both cores together and the CPU-bound goodput.
//   node dist/bench/core.js [MiB] [cubic|newreno]
import { Payload, QuicSim } from '../test/sim/quic.js';
import { serveDownloads, startDownload } from '../test/sim/transfer.js';

export interface CoreBenchResult {
  mib: number;
  cpuMsPerMib: number;
  goodputMbps: number;
  virtualGoodputMbps: number;
}

export function runCoreBench(mib = 64, cc: 'cubic' | 'newreno' = 'cubic'): CoreBenchResult {
  const size = mib * 1024 * 1024;
  const q = new QuicSim({
    seed: 1,
    link: { delay: 500, rateBps: 10e9, queueBytes: 64 * 1024 * 1024 },
    serverTransport: {
      congestionControl: cc,
      initialMaxData: 64 << 20,
      maxConnectionWindow: 256 << 20,
      maxStreamWindow: 256 << 20,
    },
    clientTransport: {
      initialMaxData: 64 << 20,
      initialMaxStreamDataBidiLocal: 32 << 20,
      maxConnectionWindow: 256 << 20,
      maxStreamWindow: 256 << 20,
    },
    checkAmplification: false,
  });
  const payload = new Payload(size);
  serveDownloads(q, payload);
  const { client } = q.handshake();
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const d = startDownload(q, client, payload);
  q.runUntil(() => d.result() !== undefined, 3_600_000_000);
  const wallMs = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  const r = d.result()!;
  if (r.received !== r.expected) throw new Error('corrupted download');
  const cpuMs = (cpu.user + cpu.system) / 1000;
  return {
    mib,
    cpuMsPerMib: cpuMs / mib,
    goodputMbps: (size * 8) / (wallMs / 1000) / 1e6,
    virtualGoodputMbps: (size * 8) / ((r.finishedAt - r.startedAt) / 1e6) / 1e6,
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const mib = Number(process.argv[2] ?? 64);
  const cc = (process.argv[3] ?? 'cubic') as 'cubic' | 'newreno';
  const r = runCoreBench(mib, cc);
  console.log(
    `core (in memory, ${cc}): ${r.mib} MiB, ${r.cpuMsPerMib.toFixed(1)} CPU ms/MiB for both endpoints, ` +
      `CPU-bound goodput ${r.goodputMbps.toFixed(0)} Mbit/s (virtual link goodput ${r.virtualGoodputMbps.toFixed(0)} Mbit/s)`,
  );
}
