// Interop: our client (the feather-quic CLI and the interop endpoint) against ngtcp2's
// gtlsserver (0.12.1, HTTP/3 only) on loopback. Every download is sha256-checked.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  describeEvidence,
  endpointCommand,
  expectExit,
  expectFiles,
  freeUdpPort,
  interopCerts,
  withWorkspace as inWorkspace,
  makeWww,
  migrationEvidence,
  ngtcp2,
  ourClient,
  type Served,
  secondLoopback,
  startGtlsServer,
  tracesOf,
  Workspace,
} from './harness.js';

const MiB = 1024 * 1024;
const TIMEOUT = 60_000;
const PARALLEL = Array.from({ length: 30 }, (_, i) => `p${String(i).padStart(2, '0')}.bin`);

let shared: Workspace;
let www: Served;

before(async () => {
  shared = await Workspace.create('fq-ngtcp2-server-');
  const sizes: Record<string, number> = { 'hello.txt': 1000, 'f10.bin': 10 * MiB, 'f50.bin': 50 * MiB };
  for (const p of PARALLEL) sizes[p] = 100_000;
  www = await makeWww(shared.path('www'), sizes);
});

after(() => shared.dispose());

/** Every test here needs ngtcp2's programs: fail with the set-up hint when they are missing. */
const withWorkspace = (fn: (ws: Workspace) => Promise<void>): Promise<void> => {
  ngtcp2();
  return inWorkspace(fn);
};

const pick = (...names: string[]): Record<string, string> =>
  Object.fromEntries(names.map((n) => [n, www.files[n]!]));

/** Downloads `names` from a gtlsserver started with `serverArgs` using our CLI client. */
async function download(
  ws: Workspace,
  names: string[],
  clientArgs: string[] = [],
  serverArgs: string[] = [],
): Promise<{ out: string }> {
  const srv = await startGtlsServer(ws, www.dir, serverArgs);
  const dl = ws.path('dl');
  const urls = names.map((n) => `https://localhost:${srv.port}/${n}`);
  const c = ourClient(ws, ['-o', dl, ...clientArgs, ...urls]);
  await expectExit(ws, c, 0);
  await expectFiles(ws, dl, pick(...names));
  return { out: c.output };
}

describe('our client -> gtlsserver', () => {
  test('handshake and a small file', { timeout: TIMEOUT }, () =>
    withWorkspace(async (ws) => {
      const { out } = await download(ws, ['hello.txt']);
      assert.match(out, /connected in .*ALPN h3, QUIC v1, TLS_AES_128_GCM_SHA256/);
    }),
  );

  test('10 MiB transfer', { timeout: TIMEOUT }, () =>
    withWorkspace((ws) => download(ws, ['f10.bin']).then(() => {})),
  );

  test('50 MiB transfer', { timeout: TIMEOUT }, () =>
    withWorkspace((ws) => download(ws, ['f50.bin']).then(() => {})),
  );

  test('30 parallel requests', { timeout: TIMEOUT }, () =>
    withWorkspace((ws) => download(ws, PARALLEL, ['--parallel', '30']).then(() => {})),
  );

  test('ChaCha20-Poly1305 only (interop endpoint, TESTCASE=chacha20)', { timeout: TIMEOUT }, () =>
    withWorkspace(async (ws) => {
      const srv = await startGtlsServer(ws, www.dir, [
        '--ciphers=NORMAL:-VERS-ALL:+VERS-TLS1.3:-CIPHER-ALL:+CHACHA20-POLY1305',
      ]);
      const dl = ws.path('dl');
      const e = endpointCommand();
      const c = ws.spawn('run-endpoint client', e.cmd, e.args, {
        timeoutMs: TIMEOUT,
        env: {
          ROLE: 'client',
          TESTCASE: 'chacha20',
          ALPN: 'h3',
          CERTS: await interopCerts(ws.dir),
          DOWNLOADS: dl,
          REQUESTS: `https://localhost:${srv.port}/f10.bin https://localhost:${srv.port}/hello.txt`,
        },
      });
      await expectExit(ws, c, 0);
      await expectFiles(ws, dl, pick('f10.bin', 'hello.txt'));
      assert.match(c.output, /TLS_CHACHA20_POLY1305_SHA256/);
    }),
  );

  test('key update initiated by our client', { timeout: TIMEOUT }, () =>
    withWorkspace(async (ws) => {
      const q = ws.path('qlog');
      const { out } = await download(ws, ['f10.bin'], ['--key-update-after', '20', '--qlog-dir', q]);
      assert.match(out, /key update initiated/);
      assert.match(out, /key update to phase 1 \(local\)/);
      const [trace] = tracesOf(q, 'client');
      assert.ok(trace, 'client qlog written');
      const updates = trace.events.filter((e) => e.name === 'security:key_updated');
      assert.ok(updates.length >= 2, `key_updated events: ${updates.length}`);
    }),
  );

  test('Retry (gtlsserver -V)', { timeout: TIMEOUT }, () =>
    withWorkspace(async (ws) => {
      const q = ws.path('qlog');
      await download(ws, ['f10.bin'], ['--qlog-dir', q], ['-V']);
      const [trace] = tracesOf(q, 'client');
      assert.ok(trace, 'client qlog written');
      const retries = trace.events.filter(
        (e) =>
          e.name === 'transport:packet_received' &&
          (e.data['header'] as { packet_type?: string }).packet_type === 'retry',
      );
      assert.equal(retries.length, 1, 'exactly one Retry received');
    }),
  );

  test('resumption and 0-RTT with a session file', { timeout: TIMEOUT }, () =>
    withWorkspace(async (ws) => {
      const srv = await startGtlsServer(ws, www.dir);
      const session = ws.path('session.json');
      const url = `https://localhost:${srv.port}/hello.txt`;
      const run = async (extra: string[], dir: string): Promise<string> => {
        const c = ourClient(ws, ['-o', ws.path(dir), '--session-file', session, ...extra, url]);
        await expectExit(ws, c, 0);
        await expectFiles(ws, ws.path(dir), pick('hello.txt'));
        return c.output;
      };
      const first = await run([], 'dl1');
      assert.match(first, /session saved/);
      assert.doesNotMatch(first, /resumed/);
      const second = await run([], 'dl2');
      assert.match(second, /connected in .*resumed/);
      const third = await run(['--early-data'], 'dl3');
      assert.match(third, /connected in .*resumed, 0-RTT accepted/);
    }),
  );

  test('2% loss each way (gtlsserver -t 0.02 -r 0.02)', { timeout: TIMEOUT }, () =>
    withWorkspace((ws) => download(ws, ['f10.bin'], [], ['-t', '0.02', '-r', '0.02']).then(() => {})),
  );
});

describe('migration: our client -> gtlsserver', () => {
  test("follows gtlsserver's preferred address (50 MiB)", { timeout: TIMEOUT }, () =>
    withWorkspace(async (ws) => {
      const ip = (await secondLoopback()) ?? '127.0.0.1';
      const prefPort = await freeUdpPort(ip);
      const q = ws.path('qlog');
      const { out } = await download(
        ws,
        ['f50.bin'],
        ['--qlog-dir', q],
        [`--preferred-ipv4-addr=${ip}:${prefPort}`],
      );
      assert.match(out, /\(server's preferred address\)/);
      const [trace] = tracesOf(q, 'client');
      assert.ok(trace, 'client qlog written');
      const ev = migrationEvidence(trace);
      const pref = Object.keys(ev.bytesReceivedByPath).find((k) => k.endsWith(`>${ip}:${prefPort}`));
      assert.ok(pref, `a path to the preferred address: ${describeEvidence(ev)}`);
      assert.ok((ev.challengesByPath[pref] ?? 0) >= 1, `PATH_CHALLENGE on ${pref}: ${describeEvidence(ev)}`);
      assert.ok(
        ev.validatedPaths.includes(pref),
        `${pref} validated (PATH_RESPONSE): ${describeEvidence(ev)}`,
      );
      assert.ok(ev.bytesReceivedByPath[pref]! > 40 * MiB, `data on ${pref}: ${describeEvidence(ev)}`);
    }),
  );

  test('migrate() to a new local socket mid-download (50 MiB)', { timeout: TIMEOUT }, () =>
    withWorkspace(async (ws) => {
      const q = ws.path('qlog');
      const { out } = await download(ws, ['f50.bin'], ['--qlog-dir', q, '--migrate-after', '150']);
      assert.match(out, /migration done: now on/);
      const [trace] = tracesOf(q, 'client');
      assert.ok(trace, 'client qlog written');
      const ev = migrationEvidence(trace);
      const first = ev.firstPath!;
      const firstLocal = first.split('>')[0];
      const moved = ev.validatedPaths.find((k) => k.split('>')[0] !== firstLocal);
      assert.ok(moved, `a validated path from a new local socket: ${describeEvidence(ev)}`);
      assert.ok(
        (ev.challengesByPath[moved] ?? 0) >= 1,
        `PATH_CHALLENGE on ${moved}: ${describeEvidence(ev)}`,
      );
      const before = ev.bytesReceivedByPath[first] ?? 0;
      const afterMove = ev.bytesReceivedByPath[moved] ?? 0;
      assert.ok(afterMove > 5 * MiB, `the new path carried data: ${describeEvidence(ev)}`);
      assert.ok(before > 100_000, `the old path carried data before: ${describeEvidence(ev)}`);
    }),
  );
});
