// Raw UDP ceiling of Node on this machine: one process blasts 1452-octet datagrams over
// loopback (node:dgram, a window of sends in flight) to another process that counts them.
// No QUIC at all: the upper bound for any QUIC stack running on node:dgram here.
//   node dist/bench/loopback-udp.js [seconds] [size]
import { type ChildProcess, fork } from 'node:child_process';
import dgram from 'node:dgram';
import { fileURLToPath } from 'node:url';

export interface UdpCeilingResult {
  size: number;
  seconds: number;
  sentPerSecond: number;
  receivedPerSecond: number;
  /** Payload octets received, in Mbit/s. */
  receivedMbps: number;
  lossPercent: number;
  senderCpuPercent: number;
  receiverCpuPercent: number;
}

interface BlastReport {
  sent: number;
  errors: number;
  elapsedMs: number;
  cpuMs: number;
}

interface SinkReport {
  received: number;
  bytes: number;
  cpuMs: number;
}

const SELF = fileURLToPath(import.meta.url);
const WINDOW = 64;
const BUFFER = 4 * 1024 * 1024;

function cpuMs(since: NodeJS.CpuUsage): number {
  const u = process.cpuUsage(since);
  return (u.user + u.system) / 1000;
}

function onceMessage<T>(child: ChildProcess, timeoutMs: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('UDP bench child did not answer')), timeoutMs);
    child.once('message', (m) => {
      clearTimeout(t);
      resolve(m as T);
    });
    child.once('exit', (code) => {
      clearTimeout(t);
      reject(new Error(`UDP bench child exited with ${code}`));
    });
  });
}

/** Runs the sender and the receiver as two child processes for `seconds`. */
export async function runUdpCeiling(seconds = 2, size = 1452): Promise<UdpCeilingResult> {
  const sink = fork(SELF, ['sink'], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  let blast: ChildProcess | undefined;
  try {
    const { port } = await onceMessage<{ port: number }>(sink, 5000);
    blast = fork(SELF, ['blast', String(port), String(seconds), String(size)], {
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    const b = await onceMessage<BlastReport>(blast, seconds * 1000 + 10_000);
    await new Promise((r) => setTimeout(r, 100));
    sink.send('stop');
    const s = await onceMessage<SinkReport>(sink, 5000);
    const secs = b.elapsedMs / 1000;
    return {
      size,
      seconds: secs,
      sentPerSecond: b.sent / secs,
      receivedPerSecond: s.received / secs,
      receivedMbps: (s.bytes * 8) / secs / 1e6,
      lossPercent: b.sent > 0 ? (100 * (b.sent - s.received)) / b.sent : 0,
      senderCpuPercent: (100 * b.cpuMs) / b.elapsedMs,
      receiverCpuPercent: (100 * s.cpuMs) / b.elapsedMs,
    };
  } finally {
    sink.kill('SIGKILL');
    blast?.kill('SIGKILL');
  }
}

function runSink(): void {
  const s = dgram.createSocket('udp4');
  let received = 0;
  let bytes = 0;
  let cpu0: NodeJS.CpuUsage | undefined;
  s.on('message', (m) => {
    if (cpu0 === undefined) cpu0 = process.cpuUsage();
    received++;
    bytes += m.length;
  });
  s.bind(0, '127.0.0.1', () => {
    try {
      s.setRecvBufferSize(BUFFER);
    } catch {
      // OS limit.
    }
    process.send!({ port: s.address().port });
  });
  process.on('message', () => {
    process.send!({ received, bytes, cpuMs: cpu0 ? cpuMs(cpu0) : 0 } satisfies SinkReport, () =>
      process.exit(0),
    );
  });
}

function runBlast(port: number, seconds: number, size: number): void {
  const s = dgram.createSocket('udp4');
  const payload = Buffer.alloc(size, 0xab);
  let sent = 0;
  let errors = 0;
  let inFlight = 0;
  let stopped = false;
  s.bind(0, '127.0.0.1', () => {
    try {
      s.setSendBufferSize(BUFFER);
    } catch {
      // OS limit.
    }
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    const end = t0 + seconds * 1000;
    const finish = (): void => {
      if (stopped) return;
      stopped = true;
      const elapsedMs = performance.now() - t0;
      process.send!({ sent, errors, elapsedMs, cpuMs: cpuMs(cpu0) } satisfies BlastReport, () =>
        process.exit(0),
      );
    };
    const onSent = (err: Error | null): void => {
      inFlight--;
      if (err) errors++;
      else sent++;
      if (stopped) return;
      if (performance.now() >= end) {
        if (inFlight === 0) finish();
        return;
      }
      pump();
    };
    const pump = (): void => {
      while (inFlight < WINDOW) {
        inFlight++;
        s.send(payload, port, '127.0.0.1', onSent);
      }
    };
    pump();
  });
}

if (process.argv[1] === SELF) {
  const mode = process.argv[2];
  if (mode === 'sink') runSink();
  else if (mode === 'blast')
    runBlast(Number(process.argv[3]), Number(process.argv[4]), Number(process.argv[5]));
  else {
    const r = await runUdpCeiling(Number(mode ?? 2), Number(process.argv[3] ?? 1452));
    console.log(
      `UDP ceiling (${r.size}-octet datagrams, ${r.seconds.toFixed(1)} s): sent ${(r.sentPerSecond / 1000).toFixed(0)}k/s, ` +
        `received ${(r.receivedPerSecond / 1000).toFixed(0)}k/s = ${r.receivedMbps.toFixed(0)} Mbit/s, ` +
        `loss ${r.lossPercent.toFixed(1)}%, CPU sender ${r.senderCpuPercent.toFixed(0)}% receiver ${r.receiverCpuPercent.toFixed(0)}%`,
    );
  }
}
