// QUIC interop runner endpoint without Docker (../shared/specs/interop-runner/quic.md): run by
// interop/run-endpoint with no arguments; everything comes from the environment.
//   ROLE client|server, TESTCASE, REQUESTS (space-separated URLs), ALPN (h3 | hq-interop;
//   default h3 for http3, else hq-interop), CERTS (priv.key, cert.pem, ca.pem), WWW, DOWNLOADS,
//   SERVER_ADDR / SERVER_PORT (server: listen there; client: connect there instead of the URL's
//   host), SSLKEYLOGFILE, QLOGDIR, PREFERRED_ADDRESS_V4 / _V6 (server, connectionmigration),
//   MIGRATE_AFTER_MS (client, clientmigration).
// Exit codes: 0 success, 1 failure, 127 unsupported TESTCASE, ALPN or ROLE.
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CliError, oneLine } from '../src/cli/args.js';
import { connectError, handshakeConfirmed, localFor, resolveTarget } from '../src/cli/client.js';
import {
  type Alpn,
  authorityOf,
  consumeBody,
  fileNameOf,
  forEachParallel,
  HttpSession,
  parseUrls,
} from '../src/cli/fetch.js';
import { formatAddress, formatMs, formatRate, Log } from '../src/cli/format.js';
import {
  describeConnection,
  logConnectionEvents,
  type RunningServer,
  startServer,
} from '../src/cli/server.js';
import { parseSocketAddress, type SocketAddress } from '../src/common/addr.js';
import type { TransportConfig } from '../src/connection/config.js';
import { type QuicConnection, type QuicConnectOptions, QuicEndpoint } from '../src/node/index.js';
import type { CipherSuite } from '../src/tls/constants.js';

const EXIT_UNSUPPORTED = 127;

/** Test cases we implement, per role (the runner passes the role-specific test name). */
const CLIENT_CASES = new Set([
  'handshake',
  'transfer',
  'multiplexing',
  'multiconnect',
  'retry',
  'resumption',
  'zerortt',
  'http3',
  'keyupdate',
  'chacha20',
  'v2',
  'connectionmigration',
  'clientmigration',
]);
const SERVER_CASES = new Set([
  'v2',
  'handshake',
  'transfer',
  'multiplexing',
  'multiconnect',
  'retry',
  'resumption',
  'zerortt',
  'http3',
  'keyupdate',
  'chacha20',
  'connectionmigration',
  'clientmigration',
]);

const CHACHA20: readonly CipherSuite[] = [0x1303];
/** Small initial windows for `transfer`: flow control must be extended during the download. */
const SMALL_WINDOWS: Partial<TransportConfig> = {
  initialMaxData: 256 * 1024,
  initialMaxStreamDataBidiLocal: 64 * 1024,
  initialMaxStreamDataBidiRemote: 64 * 1024,
  initialMaxStreamDataUni: 64 * 1024,
};
/** Concurrent requests (each writes a file): below the usual descriptor limit. */
const MAX_PARALLEL = 200;

const env = process.env;
const log = new Log(process.stderr);

function fail(msg: string): never {
  throw new CliError(msg);
}

function certsDir(): string | undefined {
  return env['CERTS'] || (existsSync('/certs') ? '/certs' : undefined);
}

// ---------------------------------------------------------------------- server

async function runServer(testcase: string, alpn: Alpn | undefined): Promise<number> {
  const certs = certsDir() ?? fail('CERTS is not set');
  const read = (name: string): string => {
    try {
      return readFileSync(join(certs, name), 'utf8');
    } catch (e) {
      return fail(`cannot read ${join(certs, name)}: ${oneLine(e)}`);
    }
  };
  const port = Number(env['SERVER_PORT'] || 443);
  const listen: SocketAddress[] = env['SERVER_ADDR']
    ? [{ address: env['SERVER_ADDR'], port }]
    : [
        { address: '0.0.0.0', port },
        { address: '::', port },
      ];
  const preferred: SocketAddress[] = [];
  if (testcase === 'connectionmigration') {
    for (const name of ['PREFERRED_ADDRESS_V4', 'PREFERRED_ADDRESS_V6']) {
      const v = env[name];
      if (v) {
        try {
          preferred.push(parseSocketAddress(v));
        } catch {
          fail(`${name}: expected ADDRESS:PORT, got '${v}'`);
        }
      }
    }
    // Without one given: a second socket on the first listening address.
    if (preferred.length === 0) preferred.push({ address: listen[0]!.address, port: 0 });
  }
  const server: RunningServer = await startServer({
    root: env['WWW'] || '/www',
    listen,
    certificateChain: read('cert.pem'),
    privateKey: read('priv.key'),
    alpn: alpn ? [alpn] : ['hq-interop', 'h3'],
    ...(testcase === 'retry' ? { retry: true } : {}),
    ...(testcase === 'chacha20' ? { cipherSuites: CHACHA20 } : {}),
    // v2: clients starting in v1 and offering v2 are moved to v2 (RFC 9368 §2.3, RFC 9369).
    ...(testcase === 'v2' ? { preferredVersion: 0x6b3343cf } : {}),
    ...(preferred.length > 0 ? { preferredAddresses: preferred } : {}),
    ...(env['QLOGDIR'] ? { qlogDir: env['QLOGDIR'] } : {}),
    ...(env['SSLKEYLOGFILE'] ? { keyLogFile: env['SSLKEYLOGFILE'] } : {}),
    log,
  });
  const show = (a: SocketAddress[]): string => a.map(formatAddress).join(' ');
  log.info(
    `server (${testcase}) listening on ${show(server.addresses)}` +
      (server.preferred.length > 0 ? `, preferred address ${show(server.preferred)}` : ''),
  );
  await new Promise<void>((resolve) => {
    const stop = (sig: string): void => {
      log.info(`${sig}: closing`);
      // The runner waits 3 s at most: exit even if a peer does not answer.
      setTimeout(resolve, 2500).unref();
      void server.close().then(resolve, resolve);
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
  return 0;
}

// ---------------------------------------------------------------------- client

interface ClientContext {
  testcase: string;
  alpn: Alpn;
  urls: URL[];
  downloads: string;
  endpoint: QuicEndpoint;
  remote: SocketAddress;
  options: QuicConnectOptions;
}

async function connect(
  ctx: ClientContext,
  extra: Partial<QuicConnectOptions> = {},
): Promise<{ conn: QuicConnection; session: HttpSession }> {
  const target = formatAddress(ctx.remote);
  const o: QuicConnectOptions = { ...ctx.options, ...extra };
  const t0 = performance.now();
  let conn: QuicConnection;
  try {
    conn = o.earlyData
      ? await ctx.endpoint.connectEarly(ctx.remote, o)
      : await ctx.endpoint.connect(ctx.remote, { ...o, signal: AbortSignal.timeout(10_000) });
  } catch (e) {
    throw connectError(e, target, 10_000);
  }
  logConnectionEvents(conn, log, 'client');
  const session = new HttpSession(conn, ctx.alpn, authorityOf(ctx.urls[0]!));
  void conn.opened.then(
    () =>
      log.info(`connected to ${target} in ${formatMs(performance.now() - t0)}: ${describeConnection(conn)}`),
    () => {},
  );
  return { conn, session };
}

async function download(ctx: ClientContext, session: HttpSession, urls: readonly URL[]): Promise<number> {
  let bytes = 0;
  const t0 = performance.now();
  await forEachParallel(urls, Math.min(urls.length, MAX_PARALLEL), async (url) => {
    let res: Awaited<ReturnType<HttpSession['get']>>;
    try {
      res = await session.get(url);
    } catch (e) {
      throw new CliError(`GET ${url.href}: ${oneLine(e)}`);
    }
    if (res.status !== 200) {
      await res.body.cancel().catch(() => {});
      throw new CliError(`GET ${url.href}: HTTP ${res.status}`);
    }
    let r: Awaited<ReturnType<typeof consumeBody>>;
    try {
      r = await consumeBody(res.body, join(ctx.downloads, fileNameOf(url)));
    } catch (e) {
      throw new CliError(`GET ${url.href}: ${oneLine(e)}`);
    }
    if (res.length !== undefined && r.size !== res.length) {
      throw new CliError(`GET ${url.href}: ${r.size} of ${res.length} octets`);
    }
    bytes += r.size;
  });
  const ms = performance.now() - t0;
  log.info(
    `downloaded ${urls.length} file(s), ${bytes} octets in ${ms.toFixed(0)} ms (${formatRate(bytes, ms)})`,
  );
  return bytes;
}

/** Waits for a session ticket on `conn` (up to `ms`). */
async function ticketOf(conn: QuicConnection, ms = 2000): Promise<Uint8Array | undefined> {
  if (conn.sessionTicket) return conn.sessionTicket;
  await new Promise<void>((resolve) => {
    const t = setTimeout(resolve, ms);
    conn.addEventListener(
      'sessionticket',
      () => {
        clearTimeout(t);
        resolve();
      },
      { once: true },
    );
  });
  return conn.sessionTicket;
}

async function runClientCase(ctx: ClientContext): Promise<void> {
  const { testcase, urls } = ctx;
  switch (testcase) {
    case 'multiconnect': {
      for (const url of urls) {
        const { session } = await connect(ctx);
        await download(ctx, session, [url]);
        await session.close();
      }
      return;
    }
    case 'resumption':
    case 'zerortt': {
      const first = await connect(ctx);
      await download(ctx, first.session, urls.slice(0, 1));
      const ticket = await ticketOf(first.conn);
      const token = first.conn.newToken;
      await first.session.close();
      if (!ticket) fail('the server sent no session ticket: cannot resume');
      if (urls.length < 2) return;
      const early = testcase === 'zerortt';
      const second = await connect(ctx, {
        session: ticket,
        ...(token ? { token } : {}),
        ...(early ? { earlyData: true } : {}),
      });
      const rest = download(ctx, second.session, urls.slice(1));
      await second.conn.opened;
      log.info(
        `second connection: resumed ${second.conn.resumed ? 'yes' : 'NO'}` +
          (early ? `, 0-RTT ${second.conn.earlyDataAccepted ? 'accepted' : 'REJECTED'}` : ''),
      );
      await rest;
      void second.session.close();
      return;
    }
    default: {
      const { conn, session } = await connect(ctx);
      let migration: Promise<void> = Promise.resolve();
      let finished = false;
      if (testcase === 'keyupdate') {
        // Early in the connection (the runner wants it within the first MB).
        await conn.opened;
        const t0 = performance.now();
        while (!conn.updateKey()) {
          if (performance.now() - t0 > 5000) fail('key update not permitted within 5 s');
          await new Promise((r) => setTimeout(r, 2));
        }
        log.info('key update initiated');
      }
      if (testcase === 'clientmigration') {
        const after = Number(env['MIGRATE_AFTER_MS'] || 200);
        await handshakeConfirmed(conn);
        migration = new Promise<void>((resolve, reject) => {
          setTimeout(() => {
            if (finished) {
              reject(new CliError(`the transfer ended before MIGRATE_AFTER_MS=${after}: no migration`));
              return;
            }
            const from = formatAddress(conn.localAddress);
            log.info(`migrating from ${from} to a new local socket`);
            conn.migrate().then(
              (r) => {
                log.info(`migrated to ${formatAddress(conn.localAddress)} (path RTT ${formatMs(r.rtt)})`);
                resolve();
              },
              (e: unknown) => reject(new CliError(`migration failed: ${oneLine(e)}`)),
            );
          }, after);
        });
        migration.catch(() => {});
      }
      await download(ctx, session, urls);
      finished = true;
      await migration;
      void session.close();
    }
  }
}

async function runClient(testcase: string, alpn: Alpn): Promise<number> {
  const urls = parseUrls((env['REQUESTS'] ?? '').split(/\s+/).filter(Boolean), (m) => new CliError(m));
  if (urls.length === 0) fail('REQUESTS is empty');
  const downloads = env['DOWNLOADS'] || '/downloads';
  mkdirSync(downloads, { recursive: true });
  const url0 = urls[0]!;
  const override =
    env['SERVER_ADDR'] || env['SERVER_PORT']
      ? {
          address: env['SERVER_ADDR'] || url0.hostname.replace(/^\[|\]$/g, ''),
          port: Number(env['SERVER_PORT'] || url0.port || 443),
        }
      : undefined;
  const remote = await resolveTarget(url0, override);
  const certs = certsDir();
  const caFile = certs ? join(certs, 'ca.pem') : undefined;
  const ca = caFile && existsSync(caFile) ? readFileSync(caFile, 'utf8') : undefined;
  const host = url0.hostname.replace(/^\[|\]$/g, '');
  const endpoint = await QuicEndpoint.bind({
    address: localFor(remote),
    ...(env['QLOGDIR'] ? { qlogDir: env['QLOGDIR'] } : {}),
    ...(env['SSLKEYLOGFILE'] ? { keyLogFile: env['SSLKEYLOGFILE'] } : {}),
  });
  const options: QuicConnectOptions = {
    alpn,
    serverName: host,
    idleTimeout: 30_000,
    ...(ca ? { ca } : { insecure: true }),
    ...(testcase === 'chacha20' ? { cipherSuites: CHACHA20 } : {}),
    ...(testcase === 'transfer' ? { transport: SMALL_WINDOWS } : {}),
  };
  log.info(`client (${testcase}, ${alpn}): ${urls.length} request(s) to ${formatAddress(remote)}`);
  try {
    await runClientCase({ testcase, alpn, urls, downloads, endpoint, remote, options });
  } finally {
    await endpoint.close({ timeout: 100 });
  }
  return 0;
}

// ---------------------------------------------------------------------- main

async function main(): Promise<number> {
  const role = env['ROLE'];
  const testcase = env['TESTCASE'] ?? '';
  const alpnEnv = env['ALPN'];
  if (alpnEnv && alpnEnv !== 'h3' && alpnEnv !== 'hq-interop') {
    log.result(`unsupported ALPN '${alpnEnv}'`);
    return EXIT_UNSUPPORTED;
  }
  if (role === 'server') {
    if (!SERVER_CASES.has(testcase)) {
      log.result(`unsupported test case '${testcase}' (server)`);
      return EXIT_UNSUPPORTED;
    }
    return runServer(testcase, alpnEnv as Alpn | undefined);
  }
  if (role === 'client') {
    if (!CLIENT_CASES.has(testcase)) {
      log.result(`unsupported test case '${testcase}' (client)`);
      return EXIT_UNSUPPORTED;
    }
    const alpn: Alpn = (alpnEnv as Alpn | undefined) ?? (testcase === 'http3' ? 'h3' : 'hq-interop');
    return runClient(testcase, alpn);
  }
  log.result(`unsupported ROLE '${role ?? ''}' (client or server)`);
  return EXIT_UNSUPPORTED;
}

let code: number;
try {
  code = await main();
} catch (e) {
  log.result(`error: ${oneLine(e)}`);
  code = 1;
}
process.exitCode = code;
setTimeout(() => process.exit(code), 300).unref();
