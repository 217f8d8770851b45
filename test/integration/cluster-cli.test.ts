// `feather-quic server --workers 4` as a process: ngtcp2's gtlsclient and our CLI client
// download sha256-checked files from it (one with a client address change mid-transfer), the
// worker log lines carry their index, SIGTERM stops every worker cleanly with its counters, and
// unsupported flag combinations are usage errors.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  CLI_JS,
  describeEvidence,
  expectExit,
  expectFiles,
  FIXTURE_CERTS,
  gtlsClient,
  makeWww,
  migrationEvidence,
  ngtcp2,
  ourClient,
  type Proc,
  type Served,
  startOurServer,
  tracesOf,
  Workspace,
  withWorkspace,
} from '../interop/harness.js';

const MiB = 1024 * 1024;
const TIMEOUT = 60_000;

let shared: Workspace;
let www: Served;

before(async () => {
  shared = await Workspace.create('fq-cluster-cli-');
  www = await makeWww(shared.path('www'), { 'f1.bin': MiB, 'f10.bin': 10 * MiB, 'f50.bin': 50 * MiB });
});

after(() => shared.dispose());

const pick = (...names: string[]): Record<string, string> =>
  Object.fromEntries(names.map((n) => [n, www.files[n]!]));

interface WorkerStats {
  received: number;
  deliveredLocally: number;
  forwarded: number;
  receivedForwarded: number;
  ownerDown: number;
  dropped: number;
  accepted: number;
}

/** Stops the server (SIGTERM to its process group) and reads every worker's final counters. */
async function stopAndCollect(ws: Workspace, proc: Proc, workers: number): Promise<Map<number, WorkerStats>> {
  const info = await proc.stop(8000);
  assert.equal(info.code, 0, `server exit ${JSON.stringify(info)}\n${ws.logs()}`);
  const out = proc.output;
  const stats = new Map<number, WorkerStats>();
  const re =
    /^\[w(\d+)\] stats: received (\d+), delivered locally (\d+), forwarded (\d+), received forwarded (\d+), owner down (\d+), dropped (\d+), connections accepted (\d+)$/gm;
  for (const m of out.matchAll(re)) {
    const n = m.slice(2).map(Number);
    stats.set(Number(m[1]), {
      received: n[0]!,
      deliveredLocally: n[1]!,
      forwarded: n[2]!,
      receivedForwarded: n[3]!,
      ownerDown: n[4]!,
      dropped: n[5]!,
      accepted: n[6]!,
    });
  }
  assert.deepEqual([...stats.keys()].sort(), [...Array(workers).keys()], out);
  for (let i = 0; i < workers; i++)
    assert.match(out, new RegExp(`worker ${i} \\(pid \\d+\\) exited \\(code 0\\)`));
  assert.match(out, /cluster stopped/);
  return stats;
}

const total = (s: Map<number, WorkerStats>, k: keyof WorkerStats): number =>
  [...s.values()].reduce((a, x) => a + x[k], 0);

describe('feather-quic server --workers 4', () => {
  test('gtlsclient downloads 10 MiB; log lines carry the worker index', { timeout: TIMEOUT }, () =>
    withWorkspace(async (ws) => {
      ngtcp2();
      const server = await startOurServer(ws, www.dir, ['--workers', '4']);
      assert.match(server.proc.output, /with 4 worker processes/);
      const dl = ws.path('dl');
      const c = gtlsClient(ws, server.port, dl, ['-q'], [`https://localhost:${server.port}/f10.bin`]);
      await expectExit(ws, c, 0);
      await expectFiles(ws, dl, pick('f10.bin'));
      assert.match(
        server.proc.output,
        /^\[w\d\] \[ *[\d.]+s\] server #1: connection from 127\.0\.0\.1:\d+: ALPN h3/m,
      );
      const stats = await stopAndCollect(ws, server.proc, 4);
      assert.equal(total(stats, 'accepted'), 1);
      assert.equal(total(stats, 'dropped'), 0);
    }),
  );

  test(
    'gtlsclient --change-local-addr=1s downloads 50 MiB; the new path reaches the owner',
    {
      timeout: TIMEOUT,
    },
    () =>
      withWorkspace(async (ws) => {
        ngtcp2();
        const q = ws.path('qlog');
        // 1452-octet datagrams keep the transfer going past the address change at 1 s.
        const server = await startOurServer(ws, www.dir, [
          '--workers',
          '4',
          '--max-udp-payload-size',
          '1452',
          '--qlog-dir',
          q,
        ]);
        const dl = ws.path('dl');
        const c = gtlsClient(
          ws,
          server.port,
          dl,
          ['-q', '--change-local-addr=1s'],
          [`https://localhost:${server.port}/f50.bin`],
        );
        await expectExit(ws, c, 0);
        await expectFiles(ws, dl, pick('f50.bin'));
        const stats = await stopAndCollect(ws, server.proc, 4);
        assert.equal(total(stats, 'accepted'), 1);
        assert.ok(total(stats, 'forwarded') > 0);
        const [owner] = [...stats].find(([, s]) => s.accepted === 1)!;
        assert.ok(stats.get(owner)!.receivedForwarded > 0);
        assert.match(server.proc.output, new RegExp(`^\\[w${owner}\\] .*peer moved`, 'm'));
        const [trace] = tracesOf(q, 'server');
        assert.ok(trace, 'server qlog written');
        const ev = migrationEvidence(trace);
        const moved = Object.keys(ev.streamFramesSentByPath).find((k) => k !== ev.firstPath);
        assert.ok(moved, `STREAM data sent on a new path: ${describeEvidence(ev)}`);
        assert.ok(ev.streamFramesSentByPath[moved]! > 500, `data after the move: ${describeEvidence(ev)}`);
        assert.ok(ev.validatedPaths.includes(moved), `${moved} validated: ${describeEvidence(ev)}`);
      }),
  );

  test('feather-quic client --migrate-after: byte-exact across the move', { timeout: TIMEOUT }, () =>
    withWorkspace(async (ws) => {
      const server = await startOurServer(ws, www.dir, ['--workers', '4']);
      const dl = ws.path('dl');
      const c = ourClient(ws, [
        '-q',
        '--migrate-after',
        '30',
        '-o',
        dl,
        `https://localhost:${server.port}/f10.bin`,
        `https://localhost:${server.port}/f1.bin`,
      ]);
      await expectExit(ws, c, 0);
      await expectFiles(ws, dl, pick('f10.bin', 'f1.bin'));
      assert.match(server.proc.output, /^\[w\d\] .*peer moved/m);
      const stats = await stopAndCollect(ws, server.proc, 4);
      assert.equal(total(stats, 'accepted'), 1);
      assert.ok(total(stats, 'forwarded') > 0);
    }),
  );

  test('unsupported combinations are usage errors (exit 2)', { timeout: TIMEOUT }, () =>
    withWorkspace(async (ws) => {
      const cert = ['--cert', `${FIXTURE_CERTS}/leaf-p256.pem`, '--key', `${FIXTURE_CERTS}/leaf-p256.key`];
      const cases: [string[], RegExp][] = [
        [
          ['--workers', '2', '--preferred-address', '127.0.0.1:0'],
          /--workers cannot be combined with --preferred-address/,
        ],
        [
          ['--workers', '2', '-l', '127.0.0.1:0', '-l', '127.0.0.1:0'],
          /--workers needs exactly one --listen/,
        ],
        [['--workers', '0'], /--workers/],
        [['--workers', '65'], /--workers/],
      ];
      await Promise.all(
        cases.map(async ([args, re], i) => {
          const p = ws.spawn(`case ${i}`, process.execPath, [CLI_JS, 'server', ...cert, ...args, www.dir], {
            timeoutMs: 10_000,
          });
          await expectExit(ws, p, 2);
          assert.match(p.output, re);
        }),
      );
    }),
  );
});
