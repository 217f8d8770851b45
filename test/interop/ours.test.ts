// Interop endpoint (interop/run-endpoint) against itself on real loopback sockets: every test
// case of the interop runner that we implement, plus the endpoint contract (exit codes, SIGTERM,
// DOWNLOADS holding only the bodies, logs flushed).
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import {
  describeEvidence,
  endpointCommand,
  expectExit,
  expectFiles,
  freeUdpPort,
  interopCerts,
  makeWww,
  migrationEvidence,
  type Proc,
  type Served,
  secondLoopback,
  tracesOf,
  Workspace,
  waitForUdpPort,
  withWorkspace,
} from './harness.js';

const MiB = 1024 * 1024;
const TIMEOUT = 60_000;

let shared: Workspace;
let www: Served;
let certs: string;

before(async () => {
  shared = await Workspace.create('fq-ours-');
  const sizes: Record<string, number> = {
    'small.bin': 5 * 1024,
    'medium.bin': 10 * 1024,
    'large.bin': 3 * MiB,
    'f20.bin': 20 * MiB,
  };
  for (let i = 0; i < 100; i++) sizes[`m${i}.txt`] = 32;
  www = await makeWww(shared.path('www'), sizes);
  certs = await interopCerts(shared.dir);
});

after(() => shared.dispose());

const pick = (...names: string[]): Record<string, string> =>
  Object.fromEntries(names.map((n) => [n, www.files[n]!]));

function endpoint(ws: Workspace, name: string, env: Record<string, string>, timeoutMs = TIMEOUT): Proc {
  const e = endpointCommand();
  return ws.spawn(name, e.cmd, e.args, { env, timeoutMs, cwd: '/' });
}

async function startServer(
  ws: Workspace,
  testcase: string,
  env: Record<string, string> = {},
): Promise<{ proc: Proc; port: number }> {
  const port = await freeUdpPort();
  const proc = endpoint(ws, `server ${testcase}`, {
    ROLE: 'server',
    TESTCASE: testcase,
    CERTS: certs,
    WWW: www.dir,
    SERVER_ADDR: '127.0.0.1',
    SERVER_PORT: String(port),
    ...env,
  });
  await waitForUdpPort(port, proc);
  return { proc, port };
}

function runClient(
  ws: Workspace,
  testcase: string,
  port: number,
  files: string[],
  env: Record<string, string> = {},
): Proc {
  return endpoint(ws, `client ${testcase}`, {
    ROLE: 'client',
    TESTCASE: testcase,
    CERTS: certs,
    DOWNLOADS: ws.path('downloads'),
    REQUESTS: files.map((f) => `https://localhost:${port}/${f}`).join(' '),
    ...env,
  });
}

/** Server and client with the same TESTCASE; the client must download `files` intact. */
async function pair(
  testcase: string,
  files: string[],
  check?: (client: Proc, server: Proc, ws: Workspace) => void | Promise<void>,
  o: { serverCase?: string; serverEnv?: Record<string, string>; clientEnv?: Record<string, string> } = {},
): Promise<void> {
  await withWorkspace(async (ws) => {
    const srv = await startServer(ws, o.serverCase ?? testcase, o.serverEnv);
    const c = runClient(ws, testcase, srv.port, files, o.clientEnv);
    await expectExit(ws, c, 0);
    await expectFiles(ws, ws.path('downloads'), pick(...files));
    const t0 = performance.now();
    await srv.proc.stop(5000);
    assert.equal(srv.proc.exitInfo?.code, 0, `server exit after SIGTERM\n${ws.logs()}`);
    assert.ok(performance.now() - t0 < 3000, 'server exited within 3 s of SIGTERM');
    await check?.(c, srv.proc, ws);
  });
}

describe('interop endpoint <-> interop endpoint', () => {
  test('handshake', { timeout: TIMEOUT }, () =>
    pair('handshake', ['small.bin'], (c) => assert.match(c.output, /ALPN hq-interop, QUIC v1/)),
  );

  test('transfer (small flow-control windows)', { timeout: TIMEOUT }, () =>
    pair('transfer', ['small.bin', 'medium.bin', 'large.bin']),
  );

  test('multiplexing (100 files)', { timeout: TIMEOUT }, () =>
    pair(
      'multiplexing',
      Object.keys(www.files).filter((n) => n.startsWith('m')),
    ),
  );

  test('multiconnect (one connection per file)', { timeout: TIMEOUT }, () =>
    pair('multiconnect', ['small.bin', 'medium.bin', 'large.bin'], (c) =>
      assert.equal(c.output.match(/connected to/g)?.length, 3),
    ),
  );

  test('retry', { timeout: TIMEOUT }, () =>
    withWorkspace(async (ws) => {
      const srv = await startServer(ws, 'retry');
      const c = runClient(ws, 'retry', srv.port, ['small.bin', 'large.bin'], { QLOGDIR: ws.path('qlog') });
      await expectExit(ws, c, 0);
      await expectFiles(ws, ws.path('downloads'), pick('small.bin', 'large.bin'));
      const [trace] = tracesOf(ws.path('qlog'), 'client');
      assert.ok(trace, 'client qlog');
      const retries = trace.events.filter(
        (e) =>
          e.name === 'transport:packet_received' &&
          (e.data['header'] as { packet_type?: string }).packet_type === 'retry',
      );
      assert.equal(retries.length, 1, 'the client received one Retry');
    }),
  );

  test('resumption', { timeout: TIMEOUT }, () =>
    pair('resumption', ['small.bin', 'medium.bin'], (c, s) => {
      assert.match(c.output, /second connection: resumed yes/);
      assert.match(s.output, /connection from .*resumed/);
    }),
  );

  test('zerortt', { timeout: TIMEOUT }, () =>
    pair('zerortt', ['small.bin', 'medium.bin', 'm1.txt', 'm2.txt'], (c, s) => {
      assert.match(c.output, /second connection: resumed yes, 0-RTT accepted/);
      assert.match(s.output, /resumed, 0-RTT accepted/);
    }),
  );

  test('http3', { timeout: TIMEOUT }, () =>
    pair('http3', ['small.bin', 'medium.bin', 'large.bin'], (c) => assert.match(c.output, /ALPN h3/)),
  );

  test('keyupdate', { timeout: TIMEOUT }, () =>
    pair(
      'keyupdate',
      ['large.bin'],
      (c, s) => {
        assert.match(c.output, /key update to phase 1 \(local\)/);
        assert.match(s.output, /key update to phase 1 \(remote\)/);
      },
      { serverCase: 'transfer' },
    ),
  );

  test('chacha20', { timeout: TIMEOUT }, () =>
    pair('chacha20', ['large.bin'], (c, s) => {
      assert.match(c.output, /TLS_CHACHA20_POLY1305_SHA256/);
      assert.match(s.output, /TLS_CHACHA20_POLY1305_SHA256/);
    }),
  );

  test('connectionmigration (PREFERRED_ADDRESS_V4)', { timeout: TIMEOUT }, async () => {
    const ip = (await secondLoopback()) ?? '127.0.0.1';
    const pref = `${ip}:${await freeUdpPort(ip)}`;
    await withWorkspace(async (ws) => {
      const q = ws.path('qlog');
      const srv = await startServer(ws, 'connectionmigration', { PREFERRED_ADDRESS_V4: pref });
      await srv.proc.waitFor(new RegExp(`preferred address ${pref.replace(/\./g, '\\.')}`));
      // The runner gives the client TESTCASE=transfer here: following is the default.
      const c = runClient(ws, 'transfer', srv.port, ['f20.bin'], { QLOGDIR: q });
      await expectExit(ws, c, 0);
      await expectFiles(ws, ws.path('downloads'), pick('f20.bin'));
      assert.match(c.output, /\(server's preferred address\)/);
      const [trace] = tracesOf(q, 'client');
      assert.ok(trace, 'client qlog');
      const ev = migrationEvidence(trace);
      const onPref = Object.keys(ev.bytesReceivedByPath).find((k) => k.endsWith(`>${pref}`));
      assert.ok(onPref, describeEvidence(ev));
      assert.ok(ev.validatedPaths.includes(onPref), describeEvidence(ev));
      assert.ok((ev.challengesByPath[onPref] ?? 0) >= 1, describeEvidence(ev));
      assert.ok(ev.bytesReceivedByPath[onPref]! > 10 * MiB, describeEvidence(ev));
    });
  });

  test('clientmigration (MIGRATE_AFTER_MS)', { timeout: TIMEOUT }, () =>
    withWorkspace(async (ws) => {
      const q = ws.path('qlog');
      const srv = await startServer(ws, 'transfer', { QLOGDIR: ws.path('sqlog') });
      const c = runClient(ws, 'clientmigration', srv.port, ['f20.bin'], {
        MIGRATE_AFTER_MS: '20',
        QLOGDIR: q,
      });
      await expectExit(ws, c, 0);
      await expectFiles(ws, ws.path('downloads'), pick('f20.bin'));
      assert.match(c.output, /migrated to 127\.0\.0\.1:\d+ \(path RTT/);
      await srv.proc.stop();
      const [trace] = tracesOf(q, 'client');
      assert.ok(trace, 'client qlog');
      const ev = migrationEvidence(trace);
      const firstLocal = ev.firstPath!.split('>')[0];
      const moved = ev.validatedPaths.find((k) => k.split('>')[0] !== firstLocal);
      assert.ok(moved, describeEvidence(ev));
      assert.ok(ev.bytesReceivedByPath[moved]! > MiB, describeEvidence(ev));
      // The server saw the client move and validated the new path.
      const [strace] = tracesOf(ws.path('sqlog'), 'server');
      assert.ok(strace, 'server qlog');
      const sev = migrationEvidence(strace);
      const serverMoved = Object.keys(sev.streamFramesSentByPath).find((k) => k !== sev.firstPath);
      assert.ok(serverMoved, describeEvidence(sev));
      assert.ok(sev.validatedPaths.includes(serverMoved), describeEvidence(sev));
      assert.ok((sev.responsesByPath[serverMoved] ?? 0) >= 1, describeEvidence(sev));
    }),
  );

  test(
    'v2: our client offers QUIC v2 and completes against a v1-preferring server',
    { timeout: TIMEOUT },
    () => pair('v2', ['small.bin'], (c) => assert.match(c.output, /QUIC v1/), { serverCase: 'handshake' }),
  );

  test(
    'v2: our server moves our v1 client to QUIC v2 (compatible version negotiation)',
    { timeout: TIMEOUT },
    () => pair('v2', ['small.bin', 'large.bin'], (c) => assert.match(c.output, /QUIC v2/)),
  );
});

describe('interop endpoint contract', () => {
  test('exits 127 at once for unsupported test cases, ALPNs and roles', { timeout: TIMEOUT }, () =>
    withWorkspace(async (ws) => {
      const cases: Record<string, string>[] = [
        { ROLE: 'client', TESTCASE: 'ecn' },
        { ROLE: 'server', TESTCASE: 'no-such-test' },
        { ROLE: 'client', TESTCASE: 'transfer', ALPN: 'h2' },
        { ROLE: 'observer', TESTCASE: 'transfer' },
      ];
      for (const env of cases) {
        const t0 = performance.now();
        const p = endpoint(ws, JSON.stringify(env), { CERTS: certs, WWW: www.dir, ...env });
        const info = await p.exited;
        assert.equal(info.code, 127, `${JSON.stringify(env)}\n${p.tail()}`);
        assert.ok(performance.now() - t0 < 2000, 'at once');
      }
    }),
  );

  test(
    'SIGTERM: exit 0 within 3 s with key log and qlog flushed; DOWNLOADS holds only bodies',
    { timeout: TIMEOUT },
    () =>
      withWorkspace(async (ws) => {
        const keys = ws.path('server-keys.log');
        const q = ws.path('sq');
        const srv = await startServer(ws, 'http3', { SSLKEYLOGFILE: keys, QLOGDIR: q });
        const c = runClient(ws, 'http3', srv.port, ['small.bin', 'large.bin'], {
          SSLKEYLOGFILE: ws.path('client-keys.log'),
        });
        await expectExit(ws, c, 0);
        assert.deepEqual(readdirSync(ws.path('downloads')).sort(), ['large.bin', 'small.bin']);
        const t0 = performance.now();
        const info = await srv.proc.stop(5000);
        assert.equal(info.code, 0);
        assert.ok(performance.now() - t0 < 3000, `exit took ${performance.now() - t0} ms`);
        for (const f of [keys, ws.path('client-keys.log')]) {
          assert.match(
            readFileSync(f, 'utf8'),
            /^CLIENT_HANDSHAKE_TRAFFIC_SECRET [0-9a-f]{64} [0-9a-f]+$/m,
            f,
          );
        }
        const [trace] = tracesOf(q, 'server');
        assert.ok(trace && trace.events.length > 10, 'server qlog flushed');
        assert.ok(statSync(ws.path('downloads', 'large.bin')).size === 3 * MiB);
      }),
  );

  test('the client fails (exit 1) when a body is missing', { timeout: TIMEOUT }, () =>
    withWorkspace(async (ws) => {
      const srv = await startServer(ws, 'transfer');
      const c = runClient(ws, 'transfer', srv.port, ['small.bin', 'missing.bin']);
      await expectExit(ws, c, 1);
      assert.match(c.output, /missing\.bin/);
      const h3 = runClient(ws, 'http3', srv.port, ['missing.bin']);
      await expectExit(ws, h3, 1);
      assert.match(h3.output, /HTTP 404/);
    }),
  );
});
