// Interop: ngtcp2's gtlsclient (0.12.1, HTTP/3 only) against our server (`feather-quic
// server`) on loopback. Every download is sha256-checked; the server's log and qlog show what
// happened on our side.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  describeEvidence,
  expectExit,
  expectFiles,
  gtlsClient,
  withWorkspace as inWorkspace,
  makeWww,
  migrationEvidence,
  ngtcp2,
  type RunningServer,
  type Served,
  startOurServer,
  tracesOf,
  Workspace,
} from './harness.js';

const MiB = 1024 * 1024;
const TIMEOUT = 60_000;
const PARALLEL = Array.from({ length: 30 }, (_, i) => `p${String(i).padStart(2, '0')}.bin`);

let shared: Workspace;
let www: Served;

before(async () => {
  shared = await Workspace.create('fq-ngtcp2-client-');
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

interface Run {
  server: RunningServer;
  client: string;
}

/** gtlsclient (`clientArgs`) downloads `names` from our server (`serverArgs`). */
async function download(
  ws: Workspace,
  names: string[],
  clientArgs: string[] = ['-q'],
  serverArgs: string[] = [],
  dirName = 'dl',
  server?: RunningServer,
): Promise<Run> {
  const srv = server ?? (await startOurServer(ws, www.dir, serverArgs));
  const dl = ws.path(dirName);
  const urls = names.map((n) => `https://localhost:${srv.port}/${n}`);
  const c = gtlsClient(ws, srv.port, dl, clientArgs, urls);
  await expectExit(ws, c, 0);
  await expectFiles(ws, dl, pick(...names));
  return { server: srv, client: c.output };
}

/** Verbose gtlsclient output without the STREAM/HTTP body dumps. */
const VERBOSE = ['--no-quic-dump', '--no-http-dump'];

describe('gtlsclient -> our server', () => {
  test('handshake and a small file', { timeout: TIMEOUT }, () =>
    withWorkspace(async (ws) => {
      const r = await download(ws, ['hello.txt'], VERBOSE);
      assert.match(r.client, /QUIC handshake has completed/);
      assert.match(r.client, /Negotiated ALPN is h3/);
      assert.match(r.server.proc.output, /connection from 127\.0\.0\.1:\d+: ALPN h3, QUIC v1/);
    }),
  );

  test('10 MiB transfer', { timeout: TIMEOUT }, () =>
    withWorkspace((ws) => download(ws, ['f10.bin']).then(() => {})),
  );

  test('50 MiB transfer', { timeout: TIMEOUT }, () =>
    withWorkspace((ws) => download(ws, ['f50.bin']).then(() => {})),
  );

  test('30 parallel requests', { timeout: TIMEOUT }, () =>
    withWorkspace((ws) => download(ws, PARALLEL).then(() => {})),
  );

  test('ChaCha20-Poly1305 only (gtlsclient --ciphers)', { timeout: TIMEOUT }, () =>
    withWorkspace(async (ws) => {
      const r = await download(
        ws,
        ['f10.bin'],
        ['-q', '--ciphers=NORMAL:-VERS-ALL:+VERS-TLS1.3:-CIPHER-ALL:+CHACHA20-POLY1305'],
      );
      assert.match(r.server.proc.output, /ALPN h3, QUIC v1, TLS_CHACHA20_POLY1305_SHA256/);
    }),
  );

  test('key update initiated by gtlsclient (--key-update)', { timeout: TIMEOUT }, () =>
    withWorkspace(async (ws) => {
      const r = await download(
        ws,
        ['f50.bin'],
        ['-q', '--key-update=100ms'],
        ['--max-udp-payload-size', '1452'],
      );
      assert.match(r.server.proc.output, /key update to phase 1 \(remote\)/);
    }),
  );

  test('Retry (our --retry)', { timeout: TIMEOUT }, () =>
    withWorkspace(async (ws) => {
      const r = await download(ws, ['hello.txt'], VERBOSE, ['--retry']);
      assert.match(r.client, /type=Retry/);
      assert.match(r.client, /QUIC handshake has completed/);
    }),
  );

  test('resumption and 0-RTT (--session-file, --tp-file)', { timeout: TIMEOUT }, () =>
    withWorkspace(async (ws) => {
      const state = ['--session-file', ws.path('session.pem'), '--tp-file', ws.path('tp.txt')].map(
        (x, i, a) => (i % 2 === 0 ? `${x}=${a[i + 1]}` : ''),
      );
      const args = [...VERBOSE, ...state.filter(Boolean)];
      const first = await download(ws, ['hello.txt'], args, [], 'dl1');
      const second = await download(ws, ['hello.txt'], args, [], 'dl2', first.server);
      assert.match(second.client, /type=0RTT/, 'gtlsclient sent 0-RTT packets');
      const lines = first.server.proc.output.split('\n').filter((l) => /connection from/.test(l));
      assert.equal(lines.length, 2, first.server.proc.output);
      assert.doesNotMatch(lines[0]!, /resumed/);
      assert.match(lines[1]!, /resumed, 0-RTT accepted/);
    }),
  );

  test('2% loss each way (gtlsclient -t 0.02 -r 0.02)', { timeout: TIMEOUT }, () =>
    withWorkspace((ws) => download(ws, ['f10.bin'], ['-q', '-t', '0.02', '-r', '0.02']).then(() => {})),
  );
});

describe('migration: gtlsclient -> our server (50 MiB)', () => {
  // 1452-octet datagrams keep the 50 MiB transfer above 1 s on loopback, so the address
  // change at 1 s happens mid-transfer. With --nat-rebinding, gtlsclient ignores what arrives
  // on its old socket ("ignore packet from unknown path") and sends from the new one only what
  // its own timers or received packets ask for: ACK-only clients have no PTO. If at the change
  // it has no ACK pending and no ack-eliciting packet unacknowledged, no server can ever learn
  // the new address and both sides idle out (seen once in CI). Two settings close that window:
  // small flow-control windows make it send MAX_STREAM_DATA every few packets, and --ack-thresh=100
  // (its maximum) makes it acknowledge on its max_ack_delay timer, so an ACK is almost always
  // pending when the address changes.
  for (const rebinding of [false, true]) {
    const name = rebinding ? '--change-local-addr=1s --nat-rebinding' : '--change-local-addr=1s';
    test(name, { timeout: TIMEOUT }, () =>
      withWorkspace(async (ws) => {
        const q = ws.path('qlog');
        const extra = rebinding
          ? [
              '--nat-rebinding',
              '--max-stream-data-bidi-local=64K',
              '--max-stream-window=64K',
              '--max-data=128K',
              '--max-window=128K',
              '--ack-thresh=100',
            ]
          : [];
        const server = await startOurServer(ws, www.dir, ['--max-udp-payload-size', '1452', '--qlog-dir', q]);
        const r = await download(
          ws,
          ['f50.bin'],
          ['-q', '--change-local-addr=1s', ...extra],
          [],
          'dl',
          server,
        ).catch(async (e: unknown) => {
          // What our server saw per path, for the post-mortem of a failed run.
          await server.proc.stop();
          const [trace] = tracesOf(q, 'server');
          const seen = trace ? describeEvidence(migrationEvidence(trace)) : 'no server qlog';
          throw new Error(`${e instanceof Error ? e.message : String(e)}\nserver qlog evidence: ${seen}`);
        });
        await r.server.proc.stop();
        const [trace] = tracesOf(q, 'server');
        assert.ok(trace, 'server qlog written');
        const ev = migrationEvidence(trace);
        const first = ev.firstPath!;
        const moved = Object.keys(ev.streamFramesSentByPath).find((k) => k !== first);
        assert.ok(moved, `STREAM data sent on a new path: ${describeEvidence(ev)}`);
        assert.ok(ev.streamFramesSentByPath[first]! > 500, `data before the move: ${describeEvidence(ev)}`);
        assert.ok(ev.streamFramesSentByPath[moved]! > 500, `data after the move: ${describeEvidence(ev)}`);
        assert.ok(
          (ev.challengesByPath[moved] ?? 0) >= 1,
          `PATH_CHALLENGE on ${moved}: ${describeEvidence(ev)}`,
        );
        assert.ok(ev.validatedPaths.includes(moved), `${moved} validated: ${describeEvidence(ev)}`);
        if (!rebinding) {
          // gtlsclient probes its new path first: we answered its PATH_CHALLENGE there.
          assert.ok(
            (ev.responsesByPath[moved] ?? 0) >= 1,
            `PATH_RESPONSE on ${moved}: ${describeEvidence(ev)}`,
          );
        }
        assert.match(r.server.proc.output, /peer moved/);
      }),
    );
  }
});
