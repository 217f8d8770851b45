// The file server behind `feather-quic server`, the demo and the interop endpoint: one
// QuicEndpoint serving a folder over HTTP/3 and hq-interop (ALPN chosen by the client), with
// optional Retry, preferred_address sockets, qlog and key log.
import { createPrivateKey, type KeyObject, X509Certificate } from 'node:crypto';
import { statSync } from 'node:fs';
import { Writable } from 'node:stream';
import type { SocketAddress } from '../common/addr.js';
import { addressFamily } from '../common/addr.js';
import type { TransportConfig } from '../connection/config.js';
import { startClusterServer } from '../node/cluster.js';
import {
  H3Server,
  HqServer,
  type QuicConnection,
  QuicEndpoint,
  type QuicEndpointOptions,
  type QuicServerOptions,
  staticFiles,
} from '../node/index.js';
import type { CipherSuite } from '../tls/constants.js';
import { CliError, oneLine, SUITE_NAMES } from './args.js';
import { formatAddress, formatMs, formatPath, Log, versionName } from './format.js';
import { type BackendConfig, openBackend } from './lb.js';

export interface ServerConfig {
  /** Folder served. */
  root: string;
  listen: readonly SocketAddress[];
  certificateChain: string;
  privateKey: string;
  /** ALPN protocols (default h3 and hq-interop). */
  alpn?: readonly string[];
  retry?: boolean;
  /** Extra sockets bound and advertised in preferred_address (at most one per family). */
  preferredAddresses?: readonly SocketAddress[];
  qlogDir?: string;
  keyLogFile?: string;
  cipherSuites?: readonly CipherSuite[];
  transport?: Partial<TransportConfig>;
  /** Move clients that also offer it to this QUIC version (compatible negotiation, RFC 9368). */
  preferredVersion?: number;
  /** Serve behind a `feather-quic lb` load balancer (then `listen` and `preferredAddresses` are empty). */
  backend?: BackendConfig;
  /** More QuicEndpoint.bind options (a cluster worker's shared socket, keys, CID generator). */
  endpointOptions?: Partial<QuicEndpointOptions>;
  log: Log;
}

export interface RunningServer {
  readonly endpoint: QuicEndpoint;
  /** Bound listening addresses (ports resolved). */
  readonly addresses: SocketAddress[];
  /** Bound preferred addresses, in the order given. */
  readonly preferred: SocketAddress[];
  /** Server-side connections accepted so far. */
  readonly accepted: QuicConnection[];
  /** CONNECTION_CLOSE to every connection, then sockets closed and logs flushed. */
  close(): Promise<void>;
}

/** Parses and checks a certificate chain and its key; one-line CliError when unusable. */
export function checkCertificate(chainPem: string, keyPem: string, what = 'certificate'): void {
  const certs = chainPem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g);
  if (!certs || certs.length === 0) throw new CliError(`${what}: no PEM certificate found`);
  let leaf: X509Certificate;
  try {
    leaf = new X509Certificate(certs[0]!);
    for (const c of certs.slice(1)) new X509Certificate(c);
  } catch (e) {
    throw new CliError(`${what}: invalid certificate: ${oneLine(e)}`);
  }
  let key: KeyObject;
  try {
    key = createPrivateKey(keyPem);
  } catch (e) {
    throw new CliError(`${what}: invalid private key: ${oneLine(e)}`);
  }
  if (!leaf.checkPrivateKey(key))
    throw new CliError(`${what}: the private key does not match the certificate`);
  const now = Date.now();
  if (Date.parse(leaf.validTo) < now || Date.parse(leaf.validFrom) > now) {
    throw new CliError(`${what}: certificate not valid now (${leaf.validFrom} .. ${leaf.validTo})`);
  }
}

/** Describes a connection once its handshake completed. */
export function describeConnection(conn: QuicConnection): string {
  const suite = conn.core.tls.cipherSuite;
  const parts = [
    `ALPN ${conn.alpn ?? '-'}`,
    versionName(conn.core.version),
    suite !== undefined ? (SUITE_NAMES[suite] ?? `0x${suite.toString(16)}`) : 'no cipher',
  ];
  if (conn.resumed) parts.push('resumed');
  if (conn.earlyDataAccepted !== undefined)
    parts.push(`0-RTT ${conn.earlyDataAccepted ? 'accepted' : 'rejected'}`);
  return parts.join(', ');
}

/** Logs the path, key and close events of a connection. */
export function logConnectionEvents(conn: QuicConnection, log: Log, who: string): void {
  conn.addEventListener('pathvalidated', (e) =>
    log.info(`${who}: path validated ${formatPath(e.detail.path)} (RTT ${formatMs(e.detail.rtt)})`),
  );
  conn.addEventListener('pathfailed', (e) =>
    log.info(`${who}: path failed ${formatPath(e.detail.path)} (${e.detail.reason})`),
  );
  conn.addEventListener('migrated', (e) =>
    log.info(
      `${who}: migrated ${formatPath(e.detail.from)} => ${formatPath(e.detail.to)}${e.detail.preferredAddress ? " (server's preferred address)" : ''}`,
    ),
  );
  conn.addEventListener('peermigrated', (e) =>
    log.info(`${who}: peer moved ${formatPath(e.detail.from)} => ${formatPath(e.detail.to)}`),
  );
  conn.addEventListener('keyupdate', (e) =>
    log.info(`${who}: key update to phase ${e.detail.phase} (${e.detail.initiator})`),
  );
  conn.addEventListener('close', (e) => {
    if (e.detail.error) log.info(`${who}: closed: ${oneLine(e.detail.error)}`);
  });
}

export async function startServer(cfg: ServerConfig): Promise<RunningServer> {
  try {
    if (!statSync(cfg.root).isDirectory()) throw new CliError(`${cfg.root} is not a folder`);
  } catch (e) {
    if (e instanceof CliError) throw e;
    throw new CliError(`cannot serve ${cfg.root}: ${(e as NodeJS.ErrnoException).code ?? oneLine(e)}`);
  }
  const preferred = cfg.preferredAddresses ?? [];
  const addresses = [...cfg.listen, ...preferred];
  const pref: NonNullable<QuicServerOptions['preferredAddress']> = {};
  preferred.forEach((a, i) => {
    const key = addressFamily(a) === 4 ? 'ipv4' : 'ipv6';
    if (pref[key] !== undefined) throw new CliError(`only one preferred address per address family`);
    pref[key] = cfg.listen.length + i;
  });
  const server: QuicServerOptions = {
    certificateChain: cfg.certificateChain,
    privateKey: cfg.privateKey,
    alpn: cfg.alpn ?? ['h3', 'hq-interop'],
    ...(cfg.retry ? { retry: true } : {}),
    ...(preferred.length > 0 ? { preferredAddress: pref } : {}),
    ...(cfg.cipherSuites ? { cipherSuites: cfg.cipherSuites } : {}),
  };
  if (cfg.backend && addresses.length > 0)
    throw new CliError('a backend listens only through its load balancer');
  const backend = cfg.backend ? await openBackend(cfg.backend) : undefined;
  let endpoint: QuicEndpoint;
  try {
    endpoint = await QuicEndpoint.bind({
      address: addresses,
      server,
      ...(backend ? backend.endpointOptions : {}),
      ...cfg.endpointOptions,
      ...(cfg.transport ? { transport: cfg.transport } : {}),
      ...(cfg.preferredVersion !== undefined ? { preferredVersion: cfg.preferredVersion } : {}),
      ...(cfg.qlogDir ? { qlogDir: cfg.qlogDir } : {}),
      ...(cfg.keyLogFile ? { keyLogFile: cfg.keyLogFile } : {}),
    });
  } catch (e) {
    backend?.tunnel.close();
    throw new CliError(oneLine(e));
  }
  const bound = endpoint.addresses;
  const log = cfg.log;
  const h3 = new H3Server(staticFiles(cfg.root));
  const hq = new HqServer(cfg.root);
  const accepted: QuicConnection[] = [];
  let n = 0;
  void (async () => {
    for await (const conn of endpoint) {
      const id = ++n;
      accepted.push(conn);
      if (accepted.length > 1000) accepted.shift();
      const who = `server #${id}`;
      log.info(`${who}: connection from ${formatAddress(conn.remoteAddress)}: ${describeConnection(conn)}`);
      logConnectionEvents(conn, log, who);
      if (conn.alpn === 'h3') void h3.serve(conn).catch(() => {});
      else if (conn.alpn === 'hq-interop') hq.serve(conn);
      else void conn.close(0x101, 'unsupported ALPN');
    }
  })();
  return {
    endpoint,
    addresses: backend ? bound : bound.slice(0, cfg.listen.length),
    preferred: backend ? [] : bound.slice(cfg.listen.length),
    accepted,
    close: () => endpoint.close({ timeout: 1000 }),
  };
}

// ------------------------------------------------------------------ --workers N

/**
 * `feather-quic server --workers N`: the same file server in N worker processes sharing one UDP
 * address (src/node/cluster.ts). Runs in the primary and, re-run with the same arguments, in
 * every worker; returns once this process's part stopped (SIGINT/SIGTERM).
 */
export async function runClusterServer(cfg: ServerConfig, workers: number): Promise<void> {
  const listen = cfg.listen[0];
  if (listen === undefined || cfg.listen.length !== 1) throw new CliError('--workers: one --listen address');
  if ((cfg.preferredAddresses?.length ?? 0) > 0 || cfg.backend) {
    throw new CliError('--workers: no preferred address and no load-balancer backend options');
  }
  const log = cfg.log;
  let workerLog: Log | undefined;
  const part = await startClusterServer({
    workers,
    address: listen,
    onEvent: (e) => {
      if (e.type === 'ready') log.info(`worker ${e.index} (pid ${e.pid}) ready`);
      else if (e.type === 'exit')
        log.info(`worker ${e.index} (pid ${e.pid}) exited (${e.signal ?? `code ${e.code}`})`);
      else log.info(`restarting worker ${e.index} in ${e.delayMs} ms`);
    },
    start: async (endpointOptions, w) => {
      const prefix = `[w${w.index}] `;
      const out = new Writable({
        decodeStrings: false,
        write(chunk: string, _enc, cb): void {
          process.stdout.write(prefix + chunk);
          cb();
        },
      });
      workerLog = new Log(out, log.quiet);
      const server = await startServer({ ...cfg, listen: [], endpointOptions, log: workerLog });
      return server.endpoint;
    },
  }).catch((e: unknown) => {
    throw e instanceof CliError ? e : new CliError(oneLine(e));
  });
  if (part.role === 'worker') {
    await part.closed;
    const s = part.stats();
    workerLog?.result(
      `stats: received ${s.received}, delivered locally ${s.deliveredLocally}, ` +
        `forwarded ${s.forwarded}, received forwarded ${s.receivedForwarded}, owner down ${s.ownerDown}, ` +
        `dropped ${s.dropped}, connections accepted ${s.connectionsAccepted}`,
    );
    return;
  }
  log.info(
    `serving ${cfg.root} over h3 and hq-interop on ${formatAddress(part.address)} with ${workers} ` +
      `worker process${workers === 1 ? '' : 'es'}` +
      (cfg.retry ? ', with Retry' : ''),
  );
  // Machine-readable line for scripts and tests.
  process.stdout.write(`listening ${formatAddress(part.address)}\n`);
  await part.closed;
  log.info('cluster stopped');
}
