// `feather-quic demo` (npm start): a server and a client on loopback in one process. The server
// serves a generated file and advertises a preferred address on a second loopback socket; the
// client downloads the file over HTTP/3, follows the preferred address, migrates to a new local
// socket mid-download and updates its keys, and everything is printed as it happens.
import { createHash, randomFillSync } from 'node:crypto';
import dgram from 'node:dgram';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { SocketAddress } from '../common/addr.js';
import { H3Client, type QuicConnection, QuicEndpoint } from '../node/index.js';
import { oneLine } from './args.js';
import { DEFAULT_CERTIFICATE_PEM, DEFAULT_PRIVATE_KEY_PEM } from './default-certificate.js';
import { formatAddress, formatBytes, formatMs, formatPath, formatRate, type Log } from './format.js';
import { describeConnection, type RunningServer, startServer } from './server.js';

export interface DemoOptions {
  mib: number;
  log: Log;
  /** Whole-run limit (default 25 s). */
  timeoutMs?: number;
}

/** 127.0.0.2 when this machine routes all of 127/8 to loopback, else 127.0.0.1. */
async function secondLoopback(): Promise<string> {
  const s = dgram.createSocket('udp4');
  try {
    await new Promise<void>((resolve, reject) => {
      s.once('error', reject);
      s.bind(0, '127.0.0.2', () => resolve());
    });
    return '127.0.0.2';
  } catch {
    return '127.0.0.1';
  } finally {
    try {
      s.close();
    } catch {
      // Never bound.
    }
  }
}

export async function runDemo(o: DemoOptions): Promise<boolean> {
  const log = o.log;
  const size = o.mib * 1024 * 1024;
  const dir = mkdtempSync(join(tmpdir(), 'feather-quic-demo-'));
  let server: RunningServer | undefined;
  let client: QuicEndpoint | undefined;
  let timer: NodeJS.Timeout | undefined;
  try {
    const data = Buffer.allocUnsafe(size);
    randomFillSync(data);
    const sha = createHash('sha256').update(data).digest('hex');
    writeFileSync(join(dir, 'demo.bin'), data);
    log.info(
      `generated ${formatBytes(size)} of random data in ${dir}/demo.bin (sha256 ${sha.slice(0, 16)}…)`,
    );

    const prefIp = await secondLoopback();
    const preferred: SocketAddress = { address: prefIp, port: 0 };
    server = await startServer({
      root: dir,
      listen: [{ address: '127.0.0.1', port: 0 }],
      preferredAddresses: [preferred],
      certificateChain: DEFAULT_CERTIFICATE_PEM,
      privateKey: DEFAULT_PRIVATE_KEY_PEM,
      log,
    });
    const addr = server.addresses[0]!;
    log.info(
      `server listening on ${formatAddress(addr)} (h3, hq-interop), preferred address ${formatAddress(server.preferred[0]!)}`,
    );

    client = await QuicEndpoint.bind({ address: '127.0.0.1:0' });
    log.info(
      `client socket ${formatAddress(client.address)}: connecting to ${formatAddress(addr)} over HTTP/3`,
    );
    const t0 = performance.now();
    const conn = await client.connect(addr, {
      alpn: 'h3',
      serverName: 'localhost',
      ca: DEFAULT_CERTIFICATE_PEM,
      signal: AbortSignal.timeout(5000),
    });
    log.info(`client: handshake done in ${formatMs(performance.now() - t0)}: ${describeConnection(conn)}`);
    log.info(`client: path ${formatPath({ local: conn.localAddress, remote: conn.remoteAddress })}`);
    const seen = { preferred: false, migrated: false, keyUpdate: false };
    watchClient(conn, log, seen);
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error('demo timed out')), o.timeoutMs ?? 25_000);
    });
    const h3 = new H3Client(conn, { authority: `localhost:${addr.port}` });
    const download = (async () => {
      const tReq = performance.now();
      const res = await h3.request('GET', '/demo.bin');
      log.info(`client: GET /demo.bin -> ${res.status}, content-length ${res.get('content-length')}`);
      const hash = createHash('sha256');
      let got = 0;
      let migrateAt = Math.floor(size * 0.35);
      let keyUpdateAt = Math.floor(size * 0.7);
      let nextReport = size / 4;
      let migration: Promise<unknown> = Promise.resolve();
      for await (const chunk of res.body) {
        hash.update(chunk);
        got += chunk.length;
        if (got >= nextReport) {
          log.info(`client: ${formatBytes(got)} received (${((100 * got) / size).toFixed(0)}%)`);
          nextReport += size / 4;
        }
        if (got >= migrateAt) {
          migrateAt = Number.POSITIVE_INFINITY;
          log.info(`client: migrating to a new local socket at ${formatBytes(got)} (download continues)`);
          const tm = performance.now();
          migration = conn.migrate().then(
            (r) =>
              log.info(
                `client: migration complete in ${formatMs(performance.now() - tm)}, new path RTT ${formatMs(r.rtt)}, now ${formatPath({ local: conn.localAddress, remote: conn.remoteAddress })}`,
              ),
            (e: unknown) => log.info(`client: migration FAILED: ${oneLine(e)}`),
          );
        }
        if (got >= keyUpdateAt) {
          keyUpdateAt = Number.POSITIVE_INFINITY;
          log.info(
            `client: initiating a key update at ${formatBytes(got)}: ${conn.updateKey() ? 'started' : 'not allowed yet'}`,
          );
        }
      }
      const ms = performance.now() - tReq;
      await migration;
      return { got, ms, sha: hash.digest('hex') };
    })();
    const r = await Promise.race([download, deadline]);
    const st = conn.stats();
    log.info(
      `client: ${formatBytes(r.got)} in ${(r.ms / 1000).toFixed(2)} s, goodput ${formatRate(r.got, r.ms)}; ` +
        `${st.packetsReceived} packets received, ${st.packetsSent} sent, ${st.packetsLost} lost, ` +
        `${st.pathValidations} path validations, ${st.migrations} migrations, ${st.keyUpdates} key updates`,
    );
    const ok = r.got === size && r.sha === sha;
    log.info(
      ok
        ? `sha256 matches: ${r.sha}`
        : `MISMATCH: got ${r.got} octets with sha256 ${r.sha}, expected ${size} and ${sha}`,
    );
    const missing = [
      seen.preferred ? '' : 'the preferred-address move',
      seen.migrated ? '' : 'the client migration',
      seen.keyUpdate ? '' : 'the key update',
    ].filter((s) => s);
    if (missing.length > 0) log.info(`note: did not see ${missing.join(', ')}`);
    await h3.close();
    log.info('client: connection closed');
    return ok && seen.migrated;
  } catch (e) {
    log.result(`demo failed: ${oneLine(e)}`);
    return false;
  } finally {
    clearTimeout(timer);
    await client?.close({ timeout: 500 });
    await server?.close();
    rmSync(dir, { recursive: true, force: true });
    log.info('server stopped, temporary folder removed');
  }
}

function watchClient(
  conn: QuicConnection,
  log: Log,
  seen: { preferred: boolean; migrated: boolean; keyUpdate: boolean },
): void {
  conn.addEventListener('pathvalidated', (e) =>
    log.info(
      `client: path validated ${formatPath(e.detail.path)}: PATH_CHALLENGE/PATH_RESPONSE RTT ${formatMs(e.detail.rtt)}`,
    ),
  );
  conn.addEventListener('pathfailed', (e) =>
    log.info(`client: path validation failed ${formatPath(e.detail.path)} (${e.detail.reason})`),
  );
  conn.addEventListener('migrated', (e) => {
    if (e.detail.preferredAddress) {
      seen.preferred = true;
      log.info(
        `client: following the server's preferred address: ${formatAddress(e.detail.from.remote)} => ${formatAddress(e.detail.to.remote)}`,
      );
    } else {
      seen.migrated = true;
      log.info(`client: migrated ${formatPath(e.detail.from)} => ${formatPath(e.detail.to)}`);
    }
  });
  conn.addEventListener('keyupdate', (e) => {
    seen.keyUpdate = true;
    log.info(`client: keys now in phase ${e.detail.phase} (${e.detail.initiator})`);
  });
}
