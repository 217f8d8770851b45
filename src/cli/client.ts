// `feather-quic client`: fetches URLs of one server over one connection (HTTP/3 or
// hq-interop), saves or hashes the bodies, and optionally resumes (0-RTT), migrates to a new
// local socket and updates keys mid-transfer.
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { join } from 'node:path';
import type { SocketAddress } from '../common/addr.js';
import type { TransportConfig } from '../connection/config.js';
import { QuicAbortError, type QuicConnection, type QuicConnectOptions, QuicEndpoint } from '../node/index.js';
import type { CipherSuite } from '../tls/constants.js';
import { CliError, oneLine } from './args.js';
import {
  type Alpn,
  authorityOf,
  consumeBody,
  fileNameOf,
  forEachParallel,
  HttpSession,
  hostPortOf,
} from './fetch.js';
import { formatAddress, formatBytes, formatMs, formatRate, type Log } from './format.js';
import { ProgressBar } from './progress.js';
import { describeConnection, logConnectionEvents } from './server.js';
import { readSession, writeSession } from './session-file.js';

export interface ClientConfig {
  urls: readonly URL[];
  alpn: Alpn;
  outputDir?: string;
  ca?: string;
  insecure?: boolean;
  sessionFile?: string;
  earlyData?: boolean;
  qlogDir?: string;
  keyLogFile?: string;
  parallel: number;
  migrateAfterMs?: number;
  keyUpdateAfterMs?: number;
  /** Connection timeout (ms); also the idle timeout. */
  timeoutMs: number;
  cipherSuites?: readonly CipherSuite[];
  transport?: Partial<TransportConfig>;
  version?: number;
  /** Connect here instead of the URL's host. */
  connectTo?: SocketAddress;
  progress?: NodeJS.WriteStream | undefined;
  log: Log;
}

export interface DownloadResult {
  url: string;
  status: number;
  size: number;
  sha256: string;
  file: string | undefined;
  ms: number;
  error: string | undefined;
}

export interface ClientResult {
  downloads: DownloadResult[];
  bytes: number;
  /** From the first request to the last body octet. */
  transferMs: number;
  handshakeMs: number;
  resumed: boolean;
  earlyDataAccepted: boolean | undefined;
  migrated: boolean;
  keyUpdated: boolean;
}

function isLoopback(ip: string): boolean {
  return ip.startsWith('127.') || ip === '::1';
}

/** Resolves the server address (DNS once). */
export async function resolveTarget(url: URL, connectTo: SocketAddress | undefined): Promise<SocketAddress> {
  if (connectTo) return connectTo;
  const { host, port } = hostPortOf(url);
  if (isIP(host)) return { address: host, port };
  try {
    const r = await lookup(host);
    return { address: r.address, port };
  } catch (e) {
    throw new CliError(`cannot resolve ${host}: ${(e as NodeJS.ErrnoException).code ?? oneLine(e)}`);
  }
}

/** Local address of a client socket for `remote`: loopback stays on loopback. */
export function localFor(remote: SocketAddress): string {
  const v6 = remote.address.includes(':');
  if (isLoopback(remote.address)) return v6 ? '[::1]:0' : '127.0.0.1:0';
  return v6 ? '[::]:0' : '0.0.0.0:0';
}

/** Resolves once the handshake is confirmed (RFC 9000 §9: no migration before that). */
export async function handshakeConfirmed(conn: QuicConnection, timeoutMs = 5000): Promise<void> {
  const timer = new Promise<never>((_, reject) => {
    setTimeout(() => reject(new CliError('handshake not confirmed in time')), timeoutMs).unref();
  });
  try {
    await Promise.race([conn.confirmed, timer]);
  } catch (e) {
    if (e instanceof CliError) throw e;
    throw new CliError('connection closed before the handshake was confirmed');
  }
}

/** Turns connection failures into one-line CliErrors. */
export function connectError(e: unknown, target: string, timeoutMs: number): CliError {
  if (e instanceof QuicAbortError || (e instanceof Error && e.name === 'TimeoutError')) {
    return new CliError(`cannot connect to ${target}: no response within ${timeoutMs} ms`);
  }
  return new CliError(`cannot connect to ${target}: ${oneLine(e)}`);
}

export async function runClient(cfg: ClientConfig): Promise<ClientResult> {
  const log = cfg.log;
  const first = cfg.urls[0]!;
  const origin = first.host;
  for (const u of cfg.urls) {
    if (u.host !== origin) throw new CliError(`all URLs must be on one server (${origin} and ${u.host})`);
  }
  const remote = await resolveTarget(first, cfg.connectTo);
  const target = formatAddress(remote);
  const serverKey = `${first.hostname}:${hostPortOf(first).port}`;
  const saved = cfg.sessionFile ? readSession(cfg.sessionFile, serverKey, cfg.alpn) : undefined;
  if (cfg.sessionFile && !saved) log.info(`no usable session in ${cfg.sessionFile}: full handshake`);

  let endpoint: QuicEndpoint;
  try {
    endpoint = await QuicEndpoint.bind({
      address: localFor(remote),
      ...(cfg.qlogDir ? { qlogDir: cfg.qlogDir } : {}),
      ...(cfg.keyLogFile ? { keyLogFile: cfg.keyLogFile } : {}),
    });
  } catch (e) {
    throw new CliError(oneLine(e));
  }
  const progress =
    cfg.progress && ProgressBar.enabled(cfg.progress) ? new ProgressBar(cfg.progress) : undefined;
  if (progress) log.beforeLine = () => progress.clear();
  const timers: NodeJS.Timeout[] = [];
  try {
    const { hostname } = first;
    const serverName = hostname.startsWith('[') ? hostname.slice(1, -1) : hostname;
    const options: QuicConnectOptions = {
      alpn: cfg.alpn,
      serverName,
      idleTimeout: cfg.timeoutMs,
      ...(cfg.ca !== undefined ? { ca: cfg.ca } : {}),
      ...(cfg.insecure ? { insecure: true } : {}),
      ...(saved ? { session: saved.ticket } : {}),
      ...(saved?.token ? { token: saved.token } : {}),
      ...(saved && cfg.earlyData ? { earlyData: true } : {}),
      ...(cfg.cipherSuites ? { cipherSuites: cfg.cipherSuites } : {}),
      ...(cfg.transport ? { transport: cfg.transport } : {}),
      ...(cfg.version !== undefined ? { version: cfg.version } : {}),
    };
    const t0 = performance.now();
    log.info(
      `connecting to ${target} (${cfg.alpn}${saved ? ', resuming' : ''}${options.earlyData ? ' with 0-RTT' : ''})`,
    );
    let conn: QuicConnection;
    let session: HttpSession;
    let early = false;
    const timeout = AbortSignal.timeout(cfg.timeoutMs);
    try {
      if (options.earlyData) {
        conn = await endpoint.connectEarly(remote, options);
        session = new HttpSession(conn, cfg.alpn, authorityOf(first));
        early = true;
      } else {
        conn = await endpoint.connect(remote, { ...options, signal: timeout });
        session = new HttpSession(conn, cfg.alpn, authorityOf(first));
      }
    } catch (e) {
      throw connectError(e, target, cfg.timeoutMs);
    }
    logConnectionEvents(conn, log, 'client');
    let handshakeMs = 0;
    const handshake = conn.opened.then(() => {
      handshakeMs = performance.now() - t0;
      log.info(`connected in ${formatMs(handshakeMs)}: ${describeConnection(conn)}`);
      const d = conn.stats();
      log.info(
        `path ${formatAddress(conn.localAddress)} -> ${formatAddress(conn.remoteAddress)}, RTT ${formatMs(d.rtt / 1000)}`,
      );
    });
    if (early) {
      // Requests go out now in 0-RTT; a handshake failure still fails the run.
      const onTimeout = (): void => void conn.close(0, 'timeout');
      timeout.addEventListener('abort', onTimeout, { once: true });
      handshake.then(
        () => timeout.removeEventListener('abort', onTimeout),
        () => {},
      );
    } else {
      await handshake;
    }

    let migrated = false;
    let keyUpdated = false;
    let done = false;
    let migrateError: unknown;
    const sinceStart = (ms: number, f: () => void): void => {
      timers.push(setTimeout(f, ms));
    };
    if (cfg.migrateAfterMs !== undefined) {
      sinceStart(cfg.migrateAfterMs, () => {
        if (done) {
          log.info('not migrating: the transfer already finished');
          return;
        }
        const from = formatAddress(conn.localAddress);
        log.info(`migrating from ${from} to a new local socket`);
        handshakeConfirmed(conn)
          .then(() => conn.migrate())
          .then(
            (r) => {
              migrated = true;
              log.info(
                `migration done: now on ${formatAddress(conn.localAddress)} (path RTT ${formatMs(r.rtt)})`,
              );
            },
            (e: unknown) => {
              migrateError = e;
              log.info(`migration failed: ${oneLine(e)}`);
            },
          );
      });
    }
    if (cfg.keyUpdateAfterMs !== undefined) {
      const tryUpdate = (): void => {
        if (done || conn.closeInfo) return;
        let ok = false;
        try {
          ok = conn.updateKey();
        } catch (e) {
          log.info(`key update failed: ${oneLine(e)}`);
          return;
        }
        if (ok) {
          keyUpdated = true;
          log.info('key update initiated');
        } else timers.push(setTimeout(tryUpdate, 10));
      };
      sinceStart(cfg.keyUpdateAfterMs, tryUpdate);
    }

    const downloads: DownloadResult[] = [];
    let bytes = 0;
    const tStart = performance.now();
    await forEachParallel(cfg.urls, cfg.parallel, async (url, i) => {
      const r: DownloadResult = {
        url: url.href,
        status: 0,
        size: 0,
        sha256: '',
        file: undefined,
        ms: 0,
        error: undefined,
      };
      downloads[i] = r;
      try {
        const res = await session.get(url);
        r.status = res.status;
        if (res.status >= 400) {
          await res.body.cancel().catch(() => {});
          r.error = `HTTP ${res.status}`;
          return;
        }
        progress?.addFile(res.length);
        const file = cfg.outputDir ? join(cfg.outputDir, fileNameOf(url)) : undefined;
        const b = await consumeBody(res.body, file, (n) => {
          bytes += n;
          progress?.add(n);
        });
        progress?.fileDone();
        r.size = b.size;
        r.sha256 = b.sha256;
        r.file = file;
        r.ms = b.ms;
        if (res.length !== undefined && res.length !== b.size) {
          r.error = `truncated body: ${b.size} of ${res.length} octets`;
        }
      } catch (e) {
        if (e instanceof CliError) throw e;
        r.error = oneLine(e);
        // Connection-level failures end every download.
        if (conn.closeInfo) throw new CliError(`${url.href}: ${r.error}`);
      }
    });
    done = true;
    const transferMs = performance.now() - tStart;
    progress?.clear();
    await handshake.catch((e: unknown) => {
      throw connectError(e, target, cfg.timeoutMs);
    });
    if (migrateError !== undefined) throw new CliError(`migration failed: ${oneLine(migrateError)}`);
    log.info(
      `received ${formatBytes(bytes)} in ${(transferMs / 1000).toFixed(2)} s: ${formatRate(bytes, transferMs)}`,
    );

    if (cfg.sessionFile) {
      if (!conn.sessionTicket) {
        await new Promise<void>((resolve) => {
          const t = setTimeout(resolve, 1000);
          conn.addEventListener(
            'sessionticket',
            () => {
              clearTimeout(t);
              resolve();
            },
            { once: true },
          );
        });
      }
      const ticket = conn.sessionTicket;
      if (ticket) {
        try {
          writeSession(cfg.sessionFile, {
            server: serverKey,
            alpn: cfg.alpn,
            ticket,
            token: conn.newToken ?? saved?.token,
            savedAt: Date.now(),
          });
          log.info(`session saved to ${cfg.sessionFile}`);
        } catch (e) {
          throw new CliError(`cannot write ${cfg.sessionFile}: ${oneLine(e)}`);
        }
      } else {
        log.info('the server sent no session ticket: nothing saved');
      }
    }
    const result: ClientResult = {
      downloads,
      bytes,
      transferMs,
      handshakeMs,
      resumed: conn.resumed,
      earlyDataAccepted: conn.earlyDataAccepted,
      migrated,
      keyUpdated,
    };
    void session.close(); // endpoint.close() below waits for the CONNECTION_CLOSE to go out
    return result;
  } finally {
    for (const t of timers) clearTimeout(t);
    progress?.clear();
    await endpoint.close({ timeout: 100 });
  }
}
