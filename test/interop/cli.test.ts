// The `feather-quic` command on real sockets: help texts, exit codes and one-line errors, the
// server and client against each other (h3, hq-interop, Retry, resumption, 0-RTT, preferred
// address), signals, and the demo.
import assert from 'node:assert/strict';
import { existsSync, writeFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { ProgressBar } from '../../src/cli/progress.js';
import {
  CLI_JS,
  expectExit,
  expectFiles,
  FIXTURE_CERTS,
  freeUdpPort,
  makeWww,
  ourClient,
  type Proc,
  type Served,
  secondLoopback,
  startOurServer,
  Workspace,
  withWorkspace,
} from './harness.js';

const MiB = 1024 * 1024;
const TIMEOUT = 60_000;

let shared: Workspace;
let www: Served;

before(async () => {
  shared = await Workspace.create('fq-cli-');
  www = await makeWww(shared.path('www'), { 'hello.txt': 1000, 'f10.bin': 10 * MiB });
});

after(() => shared.dispose());

const pick = (...names: string[]): Record<string, string> =>
  Object.fromEntries(names.map((n) => [n, www.files[n]!]));

function cli(ws: Workspace, args: string[], timeoutMs = 20_000): Proc {
  return ws.spawn(`feather-quic ${args[0] ?? ''}`, process.execPath, [CLI_JS, ...args], { timeoutMs });
}

/** Runs the CLI to completion; returns exit code and output. */
async function run(ws: Workspace, args: string[]): Promise<{ code: number | null; out: string }> {
  const p = cli(ws, args);
  const info = await p.exited;
  return { code: info.code, out: p.output };
}

/** The error output is exactly one line naming the problem. */
function assertOneLineError(out: string, re: RegExp): void {
  const lines = out.trim().split('\n');
  assert.equal(lines.length, 1, `one line expected:\n${out}`);
  assert.match(lines[0]!, re);
}

describe('feather-quic: help and usage errors', () => {
  test('--help of every command exits 0', { timeout: TIMEOUT }, () =>
    withWorkspace(async (ws) => {
      for (const [args, re] of [
        [['--help'], /Usage:\n {2}feather-quic server/],
        [['server', '--help'], /Usage: feather-quic server[\s\S]*--retry[\s\S]*--preferred-address/],
        [['client', '--help'], /Usage: feather-quic client[\s\S]*--session-file[\s\S]*--migrate-after/],
        [['demo', '--help'], /Usage: feather-quic demo/],
        [['help', 'client'], /Usage: feather-quic client/],
      ] as const) {
        const r = await run(ws, [...args]);
        assert.equal(r.code, 0, r.out);
        assert.match(r.out, re);
      }
    }),
  );

  test('usage errors exit 2 with one line', { timeout: TIMEOUT }, () =>
    withWorkspace(async (ws) => {
      const cases: [string[], RegExp][] = [
        [['frobnicate'], /unknown command 'frobnicate'.*feather-quic --help/],
        [['client', '--bogus', 'https://localhost/'], /--bogus.*feather-quic client --help/],
        [['client'], /expected at least one URL/],
        [['client', 'ftp://localhost/x'], /only https:\/\/ URLs/],
        [['client', '--parallel', '0', 'https://localhost/'], /--parallel: must be between 1/],
        [['client', '--alpn', 'h2', 'https://localhost/'], /--alpn: expected one of h3, hq-interop/],
        [['client', '--early-data', 'https://localhost/'], /--early-data needs --session-file/],
        [['client', '--ca', 'x', '-k', 'https://localhost/'], /--ca and --insecure exclude each other/],
        [['server', '--listen', 'localhost'], /--listen: expected ADDRESS:PORT/],
        [['server', '--cert', 'x.pem'], /--cert and --key go together/],
        [['server', '--cc', 'bbr'], /--cc: expected one of cubic, newreno/],
        [['demo', 'extra'], /unexpected argument 'extra'/],
      ];
      for (const [args, re] of cases) {
        const r = await run(ws, args);
        assert.equal(r.code, 2, `${args.join(' ')}: ${r.out}`);
        assertOneLineError(r.out, re);
      }
      const none = await run(ws, []);
      assert.equal(none.code, 2);
      assert.match(none.out, /Usage:/);
    }),
  );

  test('unreadable or invalid certificates exit 1 with one line', { timeout: TIMEOUT }, () =>
    withWorkspace(async (ws) => {
      const key = `${FIXTURE_CERTS}/leaf-p256.key`;
      writeFileSync(ws.path('garbage.pem'), '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n');
      writeFileSync(ws.path('empty.pem'), 'nothing here\n');
      const cases: [string[], RegExp][] = [
        [['--cert', ws.path('nope.pem'), '--key', key], /--cert: cannot read .*nope\.pem: ENOENT/],
        [['--cert', ws.path('garbage.pem'), '--key', key], /invalid certificate/],
        [['--cert', ws.path('empty.pem'), '--key', key], /no PEM certificate found/],
        [
          ['--cert', `${FIXTURE_CERTS}/leaf-p256.pem`, '--key', `${FIXTURE_CERTS}/leaf-p384.key`],
          /does not match/,
        ],
        [
          ['--cert', `${FIXTURE_CERTS}/leaf-expired.pem`, '--key', `${FIXTURE_CERTS}/leaf-expired.key`],
          /not valid now/,
        ],
        [
          ['--cert', `${FIXTURE_CERTS}/leaf-p256.pem`, '--key', ws.path('garbage.pem')],
          /invalid private key/,
        ],
      ];
      for (const [args, re] of cases) {
        const r = await run(ws, ['server', '--listen', '127.0.0.1:0', ...args, www.dir]);
        assert.equal(r.code, 1, `${args.join(' ')}: ${r.out}`);
        assertOneLineError(r.out, re);
      }
    }),
  );

  test('an unreachable server times out with exit 1', { timeout: TIMEOUT }, () =>
    withWorkspace(async (ws) => {
      const port = await freeUdpPort();
      const t0 = performance.now();
      const r = await run(ws, ['client', '-q', '--timeout', '800', `https://127.0.0.1:${port}/x`]);
      assert.equal(r.code, 1, r.out);
      assertOneLineError(
        r.out,
        new RegExp(`cannot connect to 127\\.0\\.0\\.1:${port}: no response within 800 ms`),
      );
      assert.ok(performance.now() - t0 < 5000);
    }),
  );
});

describe('feather-quic server <-> client', () => {
  test('HTTP/3 and hq-interop downloads, HTTP errors', { timeout: TIMEOUT }, () =>
    withWorkspace(async (ws) => {
      const srv = await startOurServer(ws, www.dir);
      const base = `https://localhost:${srv.port}`;
      const h3 = ourClient(ws, ['-o', ws.path('h3'), `${base}/f10.bin`, `${base}/hello.txt`]);
      await expectExit(ws, h3, 0);
      await expectFiles(ws, ws.path('h3'), pick('f10.bin', 'hello.txt'));
      const hq = ourClient(ws, ['--alpn', 'hq-interop', '-o', ws.path('hq'), `${base}/f10.bin`]);
      await expectExit(ws, hq, 0);
      await expectFiles(ws, ws.path('hq'), pick('f10.bin'));
      assert.match(hq.output, /ALPN hq-interop/);
      // Without --output: status, size and sha256 on stdout.
      const hashed = ourClient(ws, ['-q', `${base}/hello.txt`]);
      await expectExit(ws, hashed, 0);
      assert.equal(hashed.output.trim(), `200 1000 ${www.files['hello.txt']} ${base}/hello.txt`);
      const missing = ourClient(ws, ['-q', `${base}/hello.txt`, `${base}/missing.txt`]);
      await expectExit(ws, missing, 1);
      assert.match(missing.output, /^error: GET https:\/\/localhost:\d+\/missing\.txt: HTTP 404$/m);
      assert.match(missing.output, /^200 1000 /m);
    }),
  );

  test('an untrusted certificate fails the handshake (exit 1, one line)', { timeout: TIMEOUT }, () =>
    withWorkspace(async (ws) => {
      const srv = await startOurServer(ws, www.dir);
      const r = await run(ws, [
        'client',
        '-q',
        '--ca',
        `${FIXTURE_CERTS}/unrelated-ca.pem`,
        `https://localhost:${srv.port}/hello.txt`,
      ]);
      assert.equal(r.code, 1, r.out);
      assertOneLineError(r.out, /cannot connect to 127\.0\.0\.1:\d+: TLS handshake failed/);
      const ok = await run(ws, ['client', '-q', '-k', `https://localhost:${srv.port}/hello.txt`]);
      assert.equal(ok.code, 0, ok.out);
    }),
  );

  test('Retry, resumption and 0-RTT with a session file', { timeout: TIMEOUT }, () =>
    withWorkspace(async (ws) => {
      const srv = await startOurServer(ws, www.dir, ['--retry']);
      const url = `https://localhost:${srv.port}/hello.txt`;
      const session = ws.path('s.json');
      for (const [i, extra] of [[], [], ['--early-data']].entries()) {
        const c = ourClient(ws, ['-o', ws.path(`d${i}`), '--session-file', session, ...extra, url]);
        await expectExit(ws, c, 0);
        await expectFiles(ws, ws.path(`d${i}`), pick('hello.txt'));
      }
      const lines = srv.proc.output.split('\n').filter((l) => /connection from/.test(l));
      assert.equal(lines.length, 3, srv.proc.output);
      assert.doesNotMatch(lines[0]!, /resumed/);
      assert.match(lines[1]!, /resumed/);
      assert.match(lines[2]!, /resumed, 0-RTT accepted/);
    }),
  );

  test(
    '--preferred-address is followed, --migrate-after and --key-update-after work',
    { timeout: TIMEOUT },
    () =>
      withWorkspace(async (ws) => {
        const ip = (await secondLoopback()) ?? '127.0.0.1';
        const pref = `${ip}:${await freeUdpPort(ip)}`;
        const srv = await startOurServer(ws, www.dir, [
          '--preferred-address',
          pref,
          '--max-udp-payload-size',
          '1452',
        ]);
        const c = ourClient(ws, [
          '-o',
          ws.path('dl'),
          '--migrate-after',
          '30',
          '--key-update-after',
          '10',
          `https://localhost:${srv.port}/f10.bin`,
        ]);
        await expectExit(ws, c, 0);
        await expectFiles(ws, ws.path('dl'), pick('f10.bin'));
        assert.match(
          c.output,
          new RegExp(
            `=> 127\\.0\\.0\\.1:\\d+ -> ${pref.replace(/\./g, '\\.')} \\(server's preferred address\\)`,
          ),
        );
        assert.match(c.output, /migration done: now on 127\.0\.0\.1:\d+/);
        assert.match(c.output, /key update to phase 1 \(local\)/);
        assert.match(srv.proc.output, /peer moved/);
      }),
  );

  test('SIGINT and SIGTERM stop the server with exit 0', { timeout: TIMEOUT }, () =>
    withWorkspace(async (ws) => {
      for (const sig of ['SIGINT', 'SIGTERM'] as const) {
        const srv = await startOurServer(ws, www.dir);
        const c = ourClient(ws, ['-q', `https://localhost:${srv.port}/hello.txt`]);
        await expectExit(ws, c, 0);
        const t0 = performance.now();
        srv.proc.kill(sig);
        const info = await srv.proc.exited;
        assert.equal(info.code, 0, srv.proc.tail());
        assert.ok(performance.now() - t0 < 3000);
        assert.match(srv.proc.output, new RegExp(`${sig}: closing`));
      }
    }),
  );
});

describe('progress bar', () => {
  test('draws on a TTY only, with percentage, size and rate, and clears itself', () => {
    const writes: string[] = [];
    const tty = {
      isTTY: true,
      columns: 100,
      write: (s: string) => writes.push(s),
    } as unknown as NodeJS.WriteStream;
    const pipe = { isTTY: false } as unknown as NodeJS.WriteStream;
    assert.equal(ProgressBar.enabled(pipe), false);
    const previous = process.env['TERM'];
    process.env['TERM'] = 'xterm';
    try {
      assert.equal(ProgressBar.enabled(tty), true);
    } finally {
      if (previous === undefined) delete process.env['TERM'];
      else process.env['TERM'] = previous;
    }
    const bar = new ProgressBar(tty);
    bar.addFile(2 * MiB);
    bar.add(MiB);
    bar.fileDone();
    const last = writes[writes.length - 1]!;
    assert.ok(last.startsWith('\r\x1b[K'), JSON.stringify(last));
    assert.match(last.slice(4), /^\[#+\.+\] {2}50% 1\.0 MiB [\d.]+ [kMG]bit\/s$/);
    bar.clear();
    assert.equal(writes[writes.length - 1], '\r\x1b[K');
  });
});

describe('feather-quic demo', () => {
  test('runs the whole story in well under 30 s and leaves nothing behind', { timeout: TIMEOUT }, () =>
    withWorkspace(async (ws) => {
      const t0 = performance.now();
      const p = cli(ws, ['demo'], 30_000);
      const info = await p.exited;
      const ms = performance.now() - t0;
      assert.equal(info.code, 0, p.tail(10_000));
      assert.ok(ms < 20_000, `demo took ${ms} ms`);
      const out = p.output;
      for (const re of [
        /server listening on 127\.0\.0\.1:\d+ \(h3, hq-interop\), preferred address 127\.0\.0\.\d:\d+/,
        /handshake done in .*ALPN h3, QUIC v1, TLS_AES_128_GCM_SHA256/,
        /following the server's preferred address/,
        /path validated .*PATH_CHALLENGE\/PATH_RESPONSE RTT/,
        /migrating to a new local socket/,
        /client: migrated /,
        /server #1: peer moved .* => 127\.0\.0\.\d:\d+ -> 127\.0\.0\.1:\d+/,
        /keys now in phase 1 \(local\)/,
        /goodput [\d.]+ [MG]bit\/s/,
        /sha256 matches: [0-9a-f]{64}/,
        /server stopped, temporary folder removed/,
      ]) {
        assert.match(out, re);
      }
      const dir = /in (\/\S+)\/demo\.bin/.exec(out)?.[1];
      assert.ok(dir && !existsSync(dir), `temporary folder ${dir} removed`);
    }),
  );
});
