// The file server behind `feather-quic server`, the demo and the interop endpoint: one
// QuicEndpoint serving a folder over HTTP/3 and hq-interop (ALPN chosen by the client), with
// optional Retry, preferred_address sockets, qlog and key log.
import { createPrivateKey, type KeyObject, X509Certificate } from 'node:crypto';
import { statSync } from 'node:fs';
import type { SocketAddress } from '../common/addr.js';
import { addressFamily } from '../common/addr.js';
import type { TransportConfig } from '../connection/config.js';
import {
  H3Server,
  HqServer,
  type QuicConnection,
  QuicEndpoint,
  type QuicServerOptions,
  staticFiles,
} from '../node/index.js';
import type { CipherSuite } from '../tls/constants.js';
import { CliError, oneLine, SUITE_NAMES } from './args.js';
import { formatAddress, formatMs, formatPath, type Log, versionName } from './format.js';

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
  let endpoint: QuicEndpoint;
  try {
    endpoint = await QuicEndpoint.bind({
      address: addresses,
      server,
      ...(cfg.transport ? { transport: cfg.transport } : {}),
      ...(cfg.preferredVersion !== undefined ? { preferredVersion: cfg.preferredVersion } : {}),
      ...(cfg.qlogDir ? { qlogDir: cfg.qlogDir } : {}),
      ...(cfg.keyLogFile ? { keyLogFile: cfg.keyLogFile } : {}),
    });
  } catch (e) {
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
    addresses: bound.slice(0, cfg.listen.length),
    preferred: bound.slice(cfg.listen.length),
    accepted,
    close: () => endpoint.close({ timeout: 1000 }),
  };
}
