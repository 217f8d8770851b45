// Interop through the load balancer: ngtcp2's gtlsclient downloads from two `feather-quic server
// --behind-lb` backends behind `feather-quic lb` (1452-octet datagrams), sha256-checked; with
// --change-local-addr the migrated client stays on its backend, routed by CID.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import {
  expectExit,
  expectFiles,
  gtlsClient,
  makeWww,
  ngtcp2,
  type Served,
  Workspace,
  withWorkspace,
} from '../interop/harness.js';
import { acceptedPorts, startCluster, stopAndReadStats } from './lb-support.js';

const MiB = 1024 * 1024;
let shared: Workspace;
let www: Served;

before(async () => {
  shared = await Workspace.create('fq-lb-ngtcp2-');
  www = await makeWww(shared.path('www'), { 'f10.bin': 10 * MiB, 'f50.bin': 50 * MiB });
});

after(() => shared.dispose());

async function download(name: string, clientArgs: string[]): Promise<void> {
  ngtcp2();
  await withWorkspace(async (ws) => {
    const cluster = await startCluster(ws, www.dir, { backendArgs: ['--max-udp-payload-size', '1452'] });
    const dl = ws.path('dl');
    const c = gtlsClient(ws, cluster.lbPort, dl, clientArgs, [`https://localhost:${cluster.lbPort}/${name}`]);
    await expectExit(ws, c, 0);
    await expectFiles(ws, dl, { [name]: www.files[name]! });
    const stats = await stopAndReadStats(cluster.lb!);
    const owner = cluster.backends.filter((b) => acceptedPorts(b).length > 0);
    assert.equal(owner.length, 1, ws.logs());
    const idle = stats.backends.find((b) => b.serverId !== owner[0]!.sid)!;
    assert.equal(idle.datagramsTo, 0, `the other backend got nothing: ${JSON.stringify(stats)}`);
    assert.ok(stats.routedByFallback <= 4, `only the first flight by 4-tuple: ${JSON.stringify(stats)}`);
    assert.ok(stats.routedByCid > 1000, JSON.stringify(stats));
    if (clientArgs.some((a) => a.startsWith('--change-local-addr'))) {
      assert.match(owner[0]!.proc.output, /peer moved 127\.0\.0\.1:\d+ -> 127\.0\.0\.1:\d+ => /, ws.logs());
    }
  });
}

test('gtlsclient through the load balancer: 10 MiB', { timeout: 60_000 }, () => download('f10.bin', ['-q']));

test(
  'gtlsclient --change-local-addr=1s through the load balancer: 50 MiB, stays on its backend',
  {
    timeout: 60_000,
  },
  () => download('f50.bin', ['-q', '--change-local-addr=1s']),
);
