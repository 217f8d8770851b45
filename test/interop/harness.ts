// Harness of the interop tests: child processes (ngtcp2's gtlsclient/gtlsserver, our CLI and
// interop endpoint) that are always killed, free loopback ports, temporary folders that are
// always removed, random files with their sha256, and qlog readers.
import { type ChildProcess, spawn } from 'node:child_process';
import { createHash, randomFillSync } from 'node:crypto';
import dgram from 'node:dgram';
import {
  accessSync,
  constants,
  createReadStream,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
} from 'node:fs';
import { mkdtemp, open, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Root of the repository (this file runs from <root>/dist*\/test/interop/). */
export const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
/** Root of the compiled output this test runs from (dist/ or dist-<area>/). */
export const DIST_ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const FIXTURE_CERTS = join(REPO_ROOT, 'test', 'fixtures', 'certs');
export const CLI_JS = join(DIST_ROOT, 'src', 'cli', 'main.js');
export const ENDPOINT_JS = join(DIST_ROOT, 'interop', 'endpoint.js');
export const RUN_ENDPOINT = join(REPO_ROOT, 'interop', 'run-endpoint');

function findExecutable(name: string, extra: readonly string[]): string | undefined {
  const dirs = [...(process.env['PATH'] ?? '').split(delimiter), ...extra];
  for (const d of dirs) {
    if (!d) continue;
    const p = join(d, name);
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      // Not here.
    }
  }
  return undefined;
}

/** Paths of ngtcp2's example programs; throws (the test fails) when they are missing. */
export function ngtcp2(): { client: string; server: string } {
  const client = findExecutable('gtlsclient', ['/usr/bin']);
  const server = findExecutable('gtlsserver', ['/usr/sbin', '/usr/bin']);
  if (!client || !server) {
    throw new Error(
      'ngtcp2 example programs not found (gtlsclient / gtlsserver from the Debian packages ' +
        'ngtcp2-client and ngtcp2-server): run `npm run setup` first',
    );
  }
  return { client, server };
}

/** The command that runs our interop endpoint: the real script when running from dist/. */
export function endpointCommand(): { cmd: string; args: string[] } {
  return DIST_ROOT === join(REPO_ROOT, 'dist/')
    ? { cmd: RUN_ENDPOINT, args: [] }
    : { cmd: process.execPath, args: [ENDPOINT_JS] };
}

// ---------------------------------------------------------------------- processes

export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
}

const MAX_LOG = 1 << 20;
const live = new Set<Proc>();

process.on('exit', () => {
  for (const p of live) p.kill('SIGKILL');
});

export interface SpawnOptions {
  env?: Record<string, string | undefined>;
  cwd?: string;
  /** The process is killed (SIGKILL) after this long. */
  timeoutMs: number;
}

/** A child process in its own process group; its output is kept (the last MiB). */
export class Proc {
  readonly name: string;
  readonly child: ChildProcess;
  readonly exited: Promise<ExitInfo>;
  readonly startedAt = performance.now();
  exitInfo: ExitInfo | undefined;
  #log = '';
  #watchers: (() => void)[] = [];
  readonly #timer: NodeJS.Timeout;
  timedOut = false;

  constructor(name: string, cmd: string, args: readonly string[], o: SpawnOptions) {
    this.name = name;
    this.child = spawn(cmd, args, {
      cwd: o.cwd ?? REPO_ROOT,
      env: { ...process.env, ...o.env },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    live.add(this);
    const onData = (b: Buffer): void => {
      this.#log += b.toString('utf8');
      if (this.#log.length > MAX_LOG) this.#log = this.#log.slice(-MAX_LOG / 2);
      for (const w of this.#watchers) w();
    };
    this.child.stdout!.on('data', onData);
    this.child.stderr!.on('data', onData);
    this.exited = new Promise<ExitInfo>((resolve) => {
      this.child.on('error', (e) => {
        this.#log += `\n[spawn error: ${e.message}]\n`;
      });
      this.child.on('close', (code, signal) => {
        this.exitInfo = { code, signal };
        live.delete(this);
        clearTimeout(this.#timer);
        for (const w of this.#watchers) w();
        resolve(this.exitInfo);
      });
    });
    this.#timer = setTimeout(() => {
      this.timedOut = true;
      this.kill('SIGKILL');
    }, o.timeoutMs);
    this.#timer.unref();
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get output(): string {
    return this.#log;
  }

  /** The last `n` characters of the output, for failure messages. */
  tail(n = 4000): string {
    return `--- ${this.name} (exit ${JSON.stringify(this.exitInfo ?? 'running')}${this.timedOut ? ', timed out' : ''}):\n${this.#log.slice(-n)}`;
  }

  /** Sends `signal` to the whole process group. */
  kill(signal: NodeJS.Signals = 'SIGTERM'): void {
    if (this.exitInfo || this.child.pid === undefined) return;
    try {
      process.kill(-this.child.pid, signal);
    } catch {
      try {
        this.child.kill(signal);
      } catch {
        // Gone.
      }
    }
  }

  /** SIGTERM, then SIGKILL after `graceMs`; resolves with the exit info. */
  async stop(graceMs = 3000): Promise<ExitInfo> {
    if (this.exitInfo) return this.exitInfo;
    this.kill('SIGTERM');
    const t = setTimeout(() => this.kill('SIGKILL'), graceMs);
    try {
      return await this.exited;
    } finally {
      clearTimeout(t);
    }
  }

  /** Resolves with the first match of `re` in the output; rejects on exit or after `ms`. */
  waitFor(re: RegExp, ms = 10_000): Promise<RegExpMatchArray> {
    return new Promise((resolve, reject) => {
      const check = (): void => {
        const m = re.exec(this.#log);
        if (m) done(() => resolve(m));
        else if (this.exitInfo)
          done(() => reject(new Error(`${this.name} exited before ${re}\n${this.tail()}`)));
      };
      const timer = setTimeout(
        () => done(() => reject(new Error(`${this.name}: no ${re} within ${ms} ms\n${this.tail()}`))),
        ms,
      );
      const done = (f: () => void): void => {
        clearTimeout(timer);
        this.#watchers = this.#watchers.filter((w) => w !== check);
        f();
      };
      this.#watchers.push(check);
      check();
    });
  }
}

// ---------------------------------------------------------------------- workspaces

/** A temporary folder plus the processes of one test; `dispose()` kills and removes them. */
export class Workspace {
  readonly dir: string;
  readonly procs: Proc[] = [];

  constructor(dir: string) {
    this.dir = dir;
  }

  static async create(prefix = 'fq-interop-'): Promise<Workspace> {
    return new Workspace(await mkdtemp(join(tmpdir(), prefix)));
  }

  path(...parts: string[]): string {
    return join(this.dir, ...parts);
  }

  spawn(name: string, cmd: string, args: readonly string[], o: SpawnOptions): Proc {
    const p = new Proc(name, cmd, args, o);
    this.procs.push(p);
    return p;
  }

  /** Output tails of every process (failure diagnostics). */
  logs(n = 3000): string {
    return this.procs.map((p) => p.tail(n)).join('\n');
  }

  /** Kills the processes and removes the folder (kept when `keep`, for a post-mortem). */
  async dispose(keep = false): Promise<void> {
    await Promise.all(this.procs.map((p) => p.stop(500)));
    if (keep) console.error(`# workspace kept for inspection: ${this.dir}`);
    else rmSync(this.dir, { recursive: true, force: true });
  }
}

/**
 * Runs `fn` in a fresh workspace, disposed afterwards (processes killed, folder removed). With
 * FQ_KEEP_FAILED=1 in the environment the folder of a failed test (logs, qlogs) is kept.
 */
export async function withWorkspace(fn: (ws: Workspace) => Promise<void>): Promise<void> {
  const ws = await Workspace.create();
  let failed = true;
  try {
    await fn(ws);
    failed = false;
  } finally {
    await ws.dispose(failed && process.env.FQ_KEEP_FAILED === '1');
  }
}

// ---------------------------------------------------------------------- ports

/** A UDP port that was free a moment ago on `host`. */
export async function freeUdpPort(host = '127.0.0.1'): Promise<number> {
  const s = dgram.createSocket(host.includes(':') ? 'udp6' : 'udp4');
  await new Promise<void>((resolve, reject) => {
    s.once('error', reject);
    s.bind(0, host, () => resolve());
  });
  const port = s.address().port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/** Local UDP ports currently bound (from /proc/net/udp and udp6). */
export function boundUdpPorts(): Set<number> {
  const out = new Set<number>();
  for (const f of ['/proc/net/udp', '/proc/net/udp6']) {
    let text: string;
    try {
      text = readFileSync(f, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const local = line.trim().split(/\s+/)[1];
      const port = local?.split(':')[1];
      if (port) out.add(Number.parseInt(port, 16));
    }
  }
  return out;
}

/** Waits until some process has bound UDP `port` (a server is ready to receive). */
export async function waitForUdpPort(port: number, proc?: Proc, ms = 10_000): Promise<void> {
  const end = performance.now() + ms;
  while (!boundUdpPorts().has(port)) {
    if (proc?.exitInfo) throw new Error(`${proc.name} exited before binding port ${port}\n${proc.tail()}`);
    if (performance.now() > end) throw new Error(`nothing bound UDP port ${port} within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

// ---------------------------------------------------------------------- files

/** Writes `size` random octets to `path`; returns their sha256 (hex). */
export async function writeRandomFile(path: string, size: number): Promise<string> {
  const h = createHash('sha256');
  const fh = await open(path, 'w');
  try {
    const chunk = Buffer.allocUnsafe(Math.min(size, 1 << 20));
    for (let left = size; left > 0; ) {
      const n = Math.min(left, chunk.length);
      const part = chunk.subarray(0, n);
      randomFillSync(part);
      h.update(part);
      await fh.write(part);
      left -= n;
    }
  } finally {
    await fh.close();
  }
  return h.digest('hex');
}

/** sha256 (hex) of a file, or undefined when it does not exist. */
export async function sha256File(path: string): Promise<string | undefined> {
  const h = createHash('sha256');
  try {
    for await (const c of createReadStream(path)) h.update(c as Buffer);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
  return h.digest('hex');
}

/** The interop runner's CERTS folder: priv.key, cert.pem (leaf + intermediate), ca.pem. */
export async function interopCerts(dir: string): Promise<string> {
  const pem = (n: string): string => readFileSync(join(FIXTURE_CERTS, n), 'utf8');
  await writeFile(join(dir, 'priv.key'), pem('leaf-p256.key'));
  await writeFile(join(dir, 'cert.pem'), pem('leaf-p256.pem') + pem('intermediate.pem'));
  await writeFile(join(dir, 'ca.pem'), pem('ca.pem'));
  return dir;
}

/** Leaf + intermediate chain as one PEM file (for gtlsserver). */
export async function chainFile(dir: string): Promise<{ key: string; cert: string; ca: string }> {
  await interopCerts(dir);
  return { key: join(dir, 'priv.key'), cert: join(dir, 'cert.pem'), ca: join(dir, 'ca.pem') };
}

// ---------------------------------------------------------------------- qlog

export interface QlogEvent {
  time: number;
  name: string;
  data: Record<string, unknown>;
}

export interface QlogTrace {
  file: string;
  vantage: string | undefined;
  events: QlogEvent[];
}

/** Reads every JSON-SEQ qlog file (`*.sqlog`) of `dir`. */
export function readQlogs(dir: string): QlogTrace[] {
  let names: string[];
  try {
    names = readdirSync(dir).filter((n) => n.endsWith('.sqlog'));
  } catch {
    return [];
  }
  return names.map((n) => {
    const text = readFileSync(join(dir, n), 'utf8');
    const records = text
      .split('\u001e')
      .map((s) => s.trim())
      .filter((s) => s.length > 0)
      .map((s) => JSON.parse(s) as Record<string, unknown>);
    const head = records[0] as { trace?: { vantage_point?: { type?: string } } } | undefined;
    return {
      file: n,
      vantage: head?.trace?.vantage_point?.type,
      events: records.slice(1) as unknown as QlogEvent[],
    };
  });
}

interface QlogAddr {
  address: string;
  port: number;
}
interface QlogPath {
  local: QlogAddr;
  remote: QlogAddr;
}

const addrKey = (a: QlogAddr): string => `${a.address}:${a.port}`;

export interface MigrationEvidence {
  /** local>remote of the first packet sent (the handshake path). */
  firstPath: string | undefined;
  /** PATH_CHALLENGE and PATH_RESPONSE frames we sent, per path. */
  challengesByPath: Record<string, number>;
  responsesByPath: Record<string, number>;
  /** Paths whose validation succeeded (transport:path_validated). */
  validatedPaths: string[];
  /** STREAM frames we sent, and octets we received in packets, per path. */
  streamFramesSentByPath: Record<string, number>;
  bytesReceivedByPath: Record<string, number>;
  eventCounts: Record<string, number>;
}

const inc = (m: Record<string, number>, k: string, n = 1): void => {
  m[k] = (m[k] ?? 0) + n;
};

/** What a qlog trace says about the paths of its connection. */
export function migrationEvidence(trace: QlogTrace): MigrationEvidence {
  const ev: MigrationEvidence = {
    firstPath: undefined,
    challengesByPath: {},
    responsesByPath: {},
    validatedPaths: [],
    streamFramesSentByPath: {},
    bytesReceivedByPath: {},
    eventCounts: {},
  };
  const pathIds = new Map<number, string>();
  for (const e of trace.events) {
    inc(ev.eventCounts, e.name);
    const d = e.data;
    const path = d['path'] as QlogPath | undefined;
    const key = path ? pathKeyOf(path) : undefined;
    if (typeof d['path_id'] === 'number' && d['local'] && d['remote']) {
      // path_assigned, path_validation_started, path_challenge_sent carry the 4-tuple.
      pathIds.set(
        d['path_id'] as number,
        pathKeyOf({ local: d['local'] as QlogAddr, remote: d['remote'] as QlogAddr }),
      );
    }
    if (e.name === 'transport:packet_sent' && key) {
      ev.firstPath ??= key;
      for (const f of (d['frames'] as { frame_type: string }[] | undefined) ?? []) {
        if (f.frame_type === 'path_challenge') inc(ev.challengesByPath, key);
        else if (f.frame_type === 'path_response') inc(ev.responsesByPath, key);
        else if (f.frame_type === 'stream') inc(ev.streamFramesSentByPath, key);
      }
    } else if (e.name === 'transport:packet_received' && key) {
      inc(ev.bytesReceivedByPath, key, (d['raw'] as { length?: number } | undefined)?.length ?? 0);
    } else if (e.name === 'transport:path_validated') {
      const k = pathIds.get(d['path_id'] as number);
      if (k) ev.validatedPaths.push(k);
    }
  }
  return ev;
}

export function pathKeyOf(p: QlogPath): string {
  return `${addrKey(p.local)}>${addrKey(p.remote)}`;
}

/** The evidence as JSON, for failure messages. */
export function describeEvidence(e: MigrationEvidence): string {
  const { eventCounts: _, ...rest } = e;
  return JSON.stringify(rest, null, 1);
}

// ---------------------------------------------------------------------- servers and clients

export interface Served {
  /** sha256 per file name. */
  files: Record<string, string>;
  dir: string;
}

/** A www folder: `name -> size`. */
export async function makeWww(dir: string, sizes: Record<string, number>): Promise<Served> {
  mkdirSync(dir, { recursive: true });
  const files: Record<string, string> = {};
  for (const [name, size] of Object.entries(sizes))
    files[name] = await writeRandomFile(join(dir, name), size);
  return { files, dir };
}

export interface RunningServer {
  proc: Proc;
  port: number;
}

/** 127.0.0.2 if it can be bound here (all of 127/8 is loopback on Linux), else undefined. */
export async function secondLoopback(): Promise<string | undefined> {
  try {
    await freeUdpPort('127.0.0.2');
    return '127.0.0.2';
  } catch {
    return undefined;
  }
}

/** gtlsserver serving `www` on 127.0.0.1 (HTTP/3 only). */
export async function startGtlsServer(
  ws: Workspace,
  www: string,
  extra: readonly string[] = [],
  timeoutMs = 120_000,
): Promise<RunningServer> {
  const { server } = ngtcp2();
  const certs = await chainFile(ws.dir);
  const port = await freeUdpPort();
  const proc = ws.spawn(
    'gtlsserver',
    server,
    ['-q', '-d', www, ...extra, '127.0.0.1', String(port), certs.key, certs.cert],
    {
      timeoutMs,
    },
  );
  await waitForUdpPort(port, proc);
  return { proc, port };
}

/** `feather-quic server` on 127.0.0.1 with the test certificate. */
export async function startOurServer(
  ws: Workspace,
  www: string,
  extra: readonly string[] = [],
  timeoutMs = 120_000,
): Promise<RunningServer> {
  const certs = await chainFile(ws.dir);
  const port = await freeUdpPort();
  const proc = ws.spawn(
    'feather-quic server',
    process.execPath,
    [
      CLI_JS,
      'server',
      '--listen',
      `127.0.0.1:${port}`,
      '--cert',
      certs.cert,
      '--key',
      certs.key,
      ...extra,
      www,
    ],
    { timeoutMs },
  );
  await proc.waitFor(/^listening /m, 10_000);
  return { proc, port };
}

/** `feather-quic client` (trusting the test CA). */
export function ourClient(ws: Workspace, args: readonly string[], timeoutMs = 60_000): Proc {
  return ws.spawn(
    'feather-quic client',
    process.execPath,
    [CLI_JS, 'client', '--ca', join(FIXTURE_CERTS, 'ca.pem'), ...args],
    {
      timeoutMs,
    },
  );
}

/** gtlsclient downloading into `dl` and exiting when every stream closed. */
export function gtlsClient(
  ws: Workspace,
  port: number,
  dl: string,
  args: readonly string[],
  urls: readonly string[],
  timeoutMs = 60_000,
): Proc {
  const { client } = ngtcp2();
  mkdirSync(dl, { recursive: true });
  return ws.spawn(
    'gtlsclient',
    client,
    ['--exit-on-all-streams-close', `--download=${dl}`, ...args, '127.0.0.1', String(port), ...urls],
    { timeoutMs },
  );
}

/** Asserts the exit code of `proc`, with every process's output in the failure message. */
export async function expectExit(ws: Workspace, proc: Proc, code = 0): Promise<void> {
  const info = await proc.exited;
  if (info.code !== code) {
    throw new Error(`${proc.name} exited with ${JSON.stringify(info)}, expected ${code}\n${ws.logs()}`);
  }
}

/** Asserts that `dir` holds exactly the files `expected` (name -> sha256). */
export async function expectFiles(
  ws: Workspace,
  dir: string,
  expected: Record<string, string>,
): Promise<void> {
  const names = readdirSync(dir).sort();
  const want = Object.keys(expected).sort();
  if (JSON.stringify(names) !== JSON.stringify(want)) {
    throw new Error(`downloaded ${JSON.stringify(names)}, expected ${JSON.stringify(want)}\n${ws.logs()}`);
  }
  for (const n of want) {
    const got = await sha256File(join(dir, n));
    if (got !== expected[n]) throw new Error(`${n}: sha256 ${got}, expected ${expected[n]}\n${ws.logs()}`);
  }
}

/** Only the traces of `vantage` ('client' or 'server') in a qlog folder. */
export function tracesOf(dir: string, vantage: 'client' | 'server'): QlogTrace[] {
  return readQlogs(dir).filter((t) => t.vantage === vantage);
}
