// Set-up of the load balancer tests: `feather-quic lb` and `feather-quic server --behind-lb`
// processes on loopback (shared QUIC-LB key and shared-keys file), their logs and stats.
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import type { QuicLoadBalancerStats } from '../../src/node/load-balancer.js';
import { CLI_JS, chainFile, freeUdpPort, type Proc, type Workspace } from '../interop/harness.js';

export const LB_KEY = '8f95f09245765f80256934e50c66207f';

export interface Backend {
  readonly sid: string;
  readonly tunnelPort: number;
  readonly proc: Proc;
}

export interface Cluster {
  /** The LB process (undefined when the LB runs in the test process). */
  readonly lb: Proc | undefined;
  readonly lbPort: number;
  readonly tunnelPort: number;
  readonly backends: Backend[];
}

/** Writes the backends' shared secret file once per workspace; returns its path. */
async function keysFile(ws: Workspace): Promise<string> {
  const path = ws.path('shared-keys');
  await writeFile(path, `# shared by every backend\n${randomBytes(32).toString('hex')}\n`, {
    flag: 'wx',
  }).catch((e: NodeJS.ErrnoException) => {
    if (e.code !== 'EEXIST') throw e;
  });
  return path;
}

/** One `feather-quic server --behind-lb` backend; resolves once it listens. */
export async function startBackend(
  ws: Workspace,
  o: { sid: string; lbPort: number; lbTunnelPort: number; tunnelPort: number; www: string; extra?: string[] },
): Promise<Backend> {
  const certs = await chainFile(ws.dir);
  const proc = ws.spawn(
    `backend ${o.sid}`,
    process.execPath,
    [
      CLI_JS,
      'server',
      '--behind-lb',
      `127.0.0.1:${o.lbPort}`,
      '--tunnel',
      `127.0.0.1:${o.tunnelPort}`,
      '--lb-peer',
      `127.0.0.1:${o.lbTunnelPort}`,
      '--server-id',
      o.sid,
      '--quic-lb-key',
      LB_KEY,
      '--shared-keys',
      await keysFile(ws),
      '--cert',
      certs.cert,
      '--key',
      certs.key,
      ...(o.extra ?? []),
      o.www,
    ],
    { timeoutMs: 90_000 },
  );
  await proc.waitFor(/^listening /m, 10_000);
  return { sid: o.sid, tunnelPort: o.tunnelPort, proc };
}

/** `feather-quic lb` with two backends ('01', '02'); resolves once both are up at the LB. */
export async function startCluster(
  ws: Workspace,
  www: string,
  o: { backendArgs?: string[]; lbArgs?: string[] } = {},
): Promise<Cluster> {
  const lbPort = await freeUdpPort();
  const tunnelPort = await freeUdpPort();
  const sids = ['01', '02'];
  const ports = [await freeUdpPort(), await freeUdpPort()];
  const lb = ws.spawn(
    'lb',
    process.execPath,
    [
      CLI_JS,
      'lb',
      '--listen',
      `127.0.0.1:${lbPort}`,
      '--tunnel',
      `127.0.0.1:${tunnelPort}`,
      '--quic-lb-key',
      LB_KEY,
      ...sids.map((s, i) => `--backend=${s}=127.0.0.1:${ports[i]}`),
      ...(o.lbArgs ?? []),
    ],
    { timeoutMs: 90_000 },
  );
  await lb.waitFor(/^listening /m, 10_000);
  const backends = await Promise.all(
    sids.map((sid, i) =>
      startBackend(ws, {
        sid,
        lbPort,
        lbTunnelPort: tunnelPort,
        tunnelPort: ports[i]!,
        www,
        ...(o.backendArgs ? { extra: o.backendArgs } : {}),
      }),
    ),
  );
  for (const sid of sids) await lb.waitFor(new RegExp(`backend ${sid} \\S+ up`), 10_000);
  return { lb, lbPort, tunnelPort, backends };
}

/** Stops the LB process (SIGTERM) and returns the stats it prints at exit. */
export async function stopAndReadStats(lb: Proc): Promise<QuicLoadBalancerStats> {
  const exit = await lb.stop();
  if (exit.code !== 0) throw new Error(`lb exited with ${JSON.stringify(exit)}\n${lb.tail()}`);
  const lines = lb.output.split('\n').filter((l) => l.startsWith('stats '));
  const last = lines[lines.length - 1];
  if (!last) throw new Error(`no stats line\n${lb.tail()}`);
  return JSON.parse(last.slice(6)) as QuicLoadBalancerStats;
}

/** Client ports of the connections a backend accepted (from its log). */
export function acceptedPorts(b: Backend): number[] {
  return [...b.proc.output.matchAll(/connection from 127\.0\.0\.1:(\d+)/g)].map((m) => Number(m[1]));
}
