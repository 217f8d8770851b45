// Loopback download benchmark, real processes and sockets: one file (default 200 MiB) fetched
// over HTTP/3 by
//   - our client (feather-quic client) from our server (feather-quic server),
//   - gtlsclient from our server,
//   - gtlsclient from gtlsserver (ngtcp2 0.12.1 both sides, the baseline),
// in the same run. Goodput is the file size over the client process's wall time (start-up and
// handshake included); CPU is user+system time from /proc: the client's through a shell that
// waits for it (cutime+cstime), the server's as the growth of its utime+stime over the run.
//   node dist/bench/loopback.js [MiB]
import { execFileSync, spawn } from 'node:child_process';
import { createHash, randomFillSync } from 'node:crypto';
import dgram from 'node:dgram';
import {
  accessSync,
  closeSync,
  constants,
  createReadStream,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface LoopbackResult {
  name: string;
  ok: boolean;
  error: string | undefined;
  mib: number;
  wallMs: number;
  goodputMbps: number;
  clientCpuMs: number;
  serverCpuMs: number;
  /** (client + server CPU) per MiB. */
  cpuMsPerMib: number;
}

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const DIST = fileURLToPath(new URL('../', import.meta.url));
const CLI = join(DIST, 'src', 'cli', 'main.js');
const CERTS = join(ROOT, 'test', 'fixtures', 'certs');

let clkTck = 0;
function ticksPerSecond(): number {
  if (clkTck) return clkTck;
  try {
    clkTck = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    clkTck = 100;
  }
  return clkTck;
}

/** Fields of /proc/<pid>/stat after the command name (field 3 is index 0). */
function statFields(text: string): string[] {
  return text
    .slice(text.lastIndexOf(')') + 2)
    .trim()
    .split(/\s+/);
}

/** utime + stime of a live process, in ms. */
function processCpuMs(pid: number): number {
  const f = statFields(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  return ((Number(f[11]) + Number(f[12])) * 1000) / ticksPerSecond();
}

function which(name: string, extra: string[]): string | undefined {
  for (const d of [...(process.env['PATH'] ?? '').split(':'), ...extra]) {
    if (!d) continue;
    try {
      accessSync(join(d, name), constants.X_OK);
      return join(d, name);
    } catch {
      // Not here.
    }
  }
  return undefined;
}

async function freePort(): Promise<number> {
  const s = dgram.createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
  const p = s.address().port;
  await new Promise<void>((r) => s.close(() => r()));
  return p;
}

function boundUdp(port: number): boolean {
  for (const f of ['/proc/net/udp', '/proc/net/udp6']) {
    try {
      for (const line of readFileSync(f, 'utf8').split('\n').slice(1)) {
        const local = line.trim().split(/\s+/)[1];
        if (local && Number.parseInt(local.split(':')[1] ?? '', 16) === port) return true;
      }
    } catch {
      // No IPv6.
    }
  }
  return false;
}

async function waitBound(port: number, ms: number): Promise<void> {
  const end = performance.now() + ms;
  while (!boundUdp(port)) {
    if (performance.now() > end) throw new Error(`server did not bind port ${port}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/**
 * Runs `cmd` to completion through `sh`, which reads its own cutime/cstime afterwards:
 * the child's CPU time even though Node reaps it.
 */
function runMeasured(
  cmd: string,
  args: string[],
  timeoutMs: number,
): Promise<{ code: number | null; wallMs: number; cpuMs: number; output: string }> {
  const script = '"$@" >"$OUT" 2>&1; rc=$?; read s </proc/$$/stat; echo "RUSAGE $s" >&2; exit $rc';
  return new Promise((resolve) => {
    const t0 = performance.now();
    const outFile = join(tmpdir(), `fq-bench-${process.pid}-${Math.random().toString(36).slice(2)}.log`);
    const child = spawn('sh', ['-c', script, 'sh', cmd, ...args], {
      env: { ...process.env, OUT: outFile },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let err = '';
    child.stderr.on('data', (b: Buffer) => {
      err += b.toString();
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      const wallMs = performance.now() - t0;
      const m = /RUSAGE (.*)/.exec(err);
      let cpuMs = Number.NaN;
      if (m) {
        const f = statFields(m[1]!);
        // cutime, cstime: fields 16 and 17.
        cpuMs = ((Number(f[13]) + Number(f[14])) * 1000) / ticksPerSecond();
      }
      let output = '';
      try {
        output = readFileSync(outFile, 'utf8').slice(-4000);
        rmSync(outFile, { force: true });
      } catch {
        // No output.
      }
      resolve({ code, wallMs, cpuMs, output });
    });
  });
}

async function sha256File(path: string): Promise<string> {
  const h = createHash('sha256');
  for await (const c of createReadStream(path)) h.update(c as Buffer);
  return h.digest('hex');
}

interface Setup {
  dir: string;
  www: string;
  dl: string;
  chain: string;
  key: string;
  ca: string;
  sha: string;
  mib: number;
}

async function prepare(mib: number): Promise<Setup> {
  const dir = mkdtempSync(join(tmpdir(), 'fq-bench-'));
  const www = join(dir, 'www');
  const dl = join(dir, 'dl');
  mkdirSync(www);
  mkdirSync(dl);
  const h = createHash('sha256');
  const fd = openSync(join(www, 'file.bin'), 'w');
  const chunk = Buffer.allocUnsafe(1 << 20);
  for (let i = 0; i < mib; i++) {
    randomFillSync(chunk);
    h.update(chunk);
    writeSync(fd, chunk);
  }
  closeSync(fd);
  const pem = (n: string): string => readFileSync(join(CERTS, n), 'utf8');
  const chain = join(dir, 'chain.pem');
  const key = join(dir, 'key.pem');
  writeFileSync(chain, pem('leaf-p256.pem') + pem('intermediate.pem'));
  writeFileSync(key, pem('leaf-p256.key'));
  return { dir, www, dl, chain, key, ca: join(CERTS, 'ca.pem'), sha: h.digest('hex'), mib };
}

type ServerKind = 'ours' | 'ngtcp2';
type ClientKind = 'ours' | 'ngtcp2';

async function runCase(
  s: Setup,
  name: string,
  server: ServerKind,
  client: ClientKind,
  serverArgs: readonly string[] = [],
): Promise<LoopbackResult> {
  const result: LoopbackResult = {
    name,
    ok: false,
    error: undefined,
    mib: s.mib,
    wallMs: 0,
    goodputMbps: 0,
    clientCpuMs: 0,
    serverCpuMs: 0,
    cpuMsPerMib: 0,
  };
  const gtlsserver = which('gtlsserver', ['/usr/sbin']);
  const gtlsclient = which('gtlsclient', ['/usr/bin']);
  if ((server === 'ngtcp2' && !gtlsserver) || (client === 'ngtcp2' && !gtlsclient)) {
    result.error = 'ngtcp2 example programs missing (npm run setup)';
    return result;
  }
  const port = await freePort();
  const srv =
    server === 'ours'
      ? spawn(
          process.execPath,
          [
            CLI,
            'server',
            '-q',
            ...serverArgs,
            '--listen',
            `127.0.0.1:${port}`,
            '--cert',
            s.chain,
            '--key',
            s.key,
            s.www,
          ],
          {
            stdio: 'ignore',
          },
        )
      : spawn(gtlsserver!, ['-q', '-d', s.www, '127.0.0.1', String(port), s.key, s.chain], {
          stdio: 'ignore',
        });
  try {
    await waitBound(port, 10_000);
    const url = `https://localhost:${port}/file.bin`;
    const out = join(s.dl, 'file.bin');
    rmSync(out, { force: true });
    const cpu0 = processCpuMs(srv.pid!);
    const timeoutMs = 120_000;
    const r =
      client === 'ours'
        ? await runMeasured(process.execPath, [CLI, 'client', '-q', '--ca', s.ca, '-o', s.dl, url], timeoutMs)
        : await runMeasured(
            gtlsclient!,
            ['-q', '--exit-on-all-streams-close', `--download=${s.dl}`, '127.0.0.1', String(port), url],
            timeoutMs,
          );
    result.serverCpuMs = processCpuMs(srv.pid!) - cpu0;
    result.wallMs = r.wallMs;
    result.clientCpuMs = r.cpuMs;
    if (r.code !== 0) {
      result.error = `client exit ${r.code}: ${r.output.trim().split('\n').slice(-2).join(' | ')}`;
      return result;
    }
    const sha = await sha256File(out).catch(() => 'missing');
    if (sha !== s.sha) {
      result.error = 'sha256 mismatch';
      return result;
    }
    rmSync(out, { force: true });
    result.ok = true;
    result.goodputMbps = (s.mib * 1024 * 1024 * 8) / (r.wallMs / 1000) / 1e6;
    result.cpuMsPerMib = (result.clientCpuMs + result.serverCpuMs) / s.mib;
    return result;
  } catch (e) {
    result.error = e instanceof Error ? e.message : String(e);
    return result;
  } finally {
    srv.kill('SIGTERM');
    await new Promise<void>((r) => {
      const t = setTimeout(() => {
        srv.kill('SIGKILL');
        r();
      }, 3000);
      srv.once('exit', () => {
        clearTimeout(t);
        r();
      });
    });
  }
}

/** The three downloads of `mib` MiB, in the same run. */
export async function runLoopbackBench(mib = 200): Promise<LoopbackResult[]> {
  const s = await prepare(mib);
  try {
    return [
      await runCase(s, 'feather-quic client <- feather-quic server', 'ours', 'ours'),
      // Same datagram size as ngtcp2 (no loopback jumbo datagrams): the like-for-like row.
      await runCase(s, 'feather-quic <- feather-quic, 1452-octet datagrams', 'ours', 'ours', [
        '--max-udp-payload-size',
        '1452',
      ]),
      await runCase(s, 'gtlsclient <- feather-quic server', 'ours', 'ngtcp2'),
      await runCase(s, 'gtlsclient <- feather-quic server, 1452-octet datagrams', 'ours', 'ngtcp2', [
        '--max-udp-payload-size',
        '1452',
      ]),
      await runCase(s, 'gtlsclient <- gtlsserver (ngtcp2 baseline)', 'ngtcp2', 'ngtcp2'),
    ];
  } finally {
    rmSync(s.dir, { recursive: true, force: true });
  }
}

export function formatLoopback(rows: LoopbackResult[]): string {
  const head = [
    'download (HTTP/3, loopback)',
    'MiB',
    'goodput Mbit/s',
    'client CPU ms',
    'server CPU ms',
    'CPU ms/MiB',
  ];
  const body = rows.map((r) =>
    r.ok
      ? [
          r.name,
          String(r.mib),
          r.goodputMbps.toFixed(0),
          r.clientCpuMs.toFixed(0),
          r.serverCpuMs.toFixed(0),
          r.cpuMsPerMib.toFixed(2),
        ]
      : [r.name, String(r.mib), `FAILED: ${r.error}`, '', '', ''],
  );
  return table(head, body);
}

export function table(head: string[], rows: string[][]): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]): string =>
    r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  return [line(head), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const rows = await runLoopbackBench(Number(process.argv[2] ?? 200));
  console.log(formatLoopback(rows));
}
