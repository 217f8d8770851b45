// The QUIC-LB load balancer with real processes on loopback: `feather-quic lb` (or the library
// QuicLoadBalancer) in front of two `feather-quic server --behind-lb` backends, our client in this
// process. Every download is sha256-checked.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import {
  H3Client,
  type QuicConnection,
  QuicEndpoint,
  QuicError,
  QuicStatelessResetError,
} from '../../src/node/index.js';
import {
  type LoadBalancerRouteMessage,
  loadBalancerRouteChannel,
  QuicLoadBalancer,
} from '../../src/node/load-balancer.js';
import { QuicLbConfig } from '../../src/quic-lb/config.js';
import { freeUdpPort, makeWww, type Served, Workspace, withWorkspace } from '../interop/harness.js';
import { acceptedPorts, LB_KEY, startBackend, startCluster, stopAndReadStats } from './lb-support.js';
import { hashStream, TEST_CA, within } from './support.js';

const MiB = 1024 * 1024;
let shared: Workspace;
let www: Served;

before(async () => {
  shared = await Workspace.create('fq-lb-');
  www = await makeWww(shared.path('www'), { 'hello.txt': 1000, 'f300k.bin': 300_007, 'f12.bin': 12 * MiB });
});

after(() => shared.dispose());

async function h3(endpoint: QuicEndpoint, port: number): Promise<H3Client> {
  return H3Client.connect(endpoint, { address: '127.0.0.1', port }, { ca: TEST_CA, serverName: 'localhost' });
}

async function get(c: H3Client, name: string): Promise<void> {
  const r = await c.request('GET', `/${name}`);
  assert.equal(r.status, 200);
  const { size, sha256 } = await hashStream(r.body);
  assert.equal(sha256, www.files[name], `${name}: ${size} octets, sha256 mismatch`);
}

test(
  '16 connections through `feather-quic lb` to 2 backends: all byte-exact, both backends serve',
  {
    timeout: 60_000,
  },
  () =>
    withWorkspace(async (ws) => {
      const cluster = await startCluster(ws, www.dir);
      // One endpoint per connection: 16 different 4-tuples for the fallback hash.
      const run = async (): Promise<number> => {
        const ep = await QuicEndpoint.bind({ address: '127.0.0.1:0' });
        try {
          const c = await h3(ep, cluster.lbPort);
          await Promise.all([get(c, 'f300k.bin'), get(c, 'hello.txt')]);
          await c.connection.close();
          return ep.address.port;
        } finally {
          await ep.close();
        }
      };
      const ports: number[] = [];
      for (let i = 0; i < 16; i += 8) ports.push(...(await Promise.all(Array.from({ length: 8 }, run))));
      const stats = await stopAndReadStats(cluster.lb!);
      const served = cluster.backends.map(acceptedPorts);
      assert.deepEqual([...served.flat()].sort(), [...ports].sort(), 'each connection accepted once');
      for (const [i, s] of served.entries()) assert.ok(s.length > 0, `backend ${i + 1} served ${s.length}`);
      assert.deepEqual(
        stats.backends.map((b) => b.live),
        [true, true],
      );
      for (const b of stats.backends) assert.ok(b.datagramsTo > 0 && b.datagramsFrom > 0, JSON.stringify(b));
      // Only the first flight of each connection (client-chosen DCID) takes the fallback.
      assert.ok(stats.routedByFallback >= 16 && stats.routedByFallback <= 48, JSON.stringify(stats));
      // Everything after it — Handshake, requests, ACKs, close — by CID: several per connection.
      assert.ok(stats.routedByCid >= 16 * 4, JSON.stringify(stats));
      assert.equal(stats.dropped.unknownSender + stats.dropped.internal + stats.dropped.queueFull, 0);
    }),
);

test(
  'client migrate() through the load balancer: the new 4-tuple is routed by CID to the same backend',
  {
    timeout: 60_000,
  },
  () =>
    withWorkspace(async (ws) => {
      // The library load balancer in this process, to watch each routing decision.
      const ports = [await freeUdpPort(), await freeUdpPort()];
      const lb = await QuicLoadBalancer.bind({
        listen: '127.0.0.1:0',
        tunnel: '127.0.0.1:0',
        backends: { '01': `127.0.0.1:${ports[0]}`, '02': `127.0.0.1:${ports[1]}` },
        configs: new QuicLbConfig({
          configRotation: 0,
          serverIdLength: 1,
          nonceLength: 8,
          key: Buffer.from(LB_KEY, 'hex'),
        }),
      });
      const routes: LoadBalancerRouteMessage[] = [];
      const onRoute = (m: unknown): void => {
        routes.push(m as LoadBalancerRouteMessage);
      };
      loadBalancerRouteChannel.subscribe(onRoute);
      const ep = await QuicEndpoint.bind({ address: '127.0.0.1:0' });
      try {
        const backends = await Promise.all(
          ['01', '02'].map((sid, i) =>
            startBackend(ws, {
              sid,
              lbPort: lb.address.port,
              lbTunnelPort: lb.tunnelAddress.port,
              tunnelPort: ports[i]!,
              www: www.dir,
            }),
          ),
        );
        await within(
          5000,
          waitFor(() => lb.liveBackends.length === 2),
          'backends up',
        );
        const c = await h3(ep, lb.address.port);
        const conn: QuicConnection = c.connection;
        const oldPort = conn.localAddress.port;
        const r = await c.request('GET', '/f12.bin');
        const reader = r.body.getReader();
        const h = (await import('node:crypto')).createHash('sha256');
        let got = 0;
        let migration: Promise<unknown> | undefined;
        for (let x = await reader.read(); !x.done; x = await reader.read()) {
          h.update(x.value);
          got += x.value.length;
          if (migration === undefined && got > 3 * MiB) migration = conn.migrate();
        }
        assert.equal(got, 12 * MiB);
        assert.equal(h.digest('hex'), www.files['f12.bin']);
        await within(5000, migration!, 'migrate()');
        const newPort = conn.localAddress.port;
        assert.notEqual(newPort, oldPort, 'the client moved to a new socket');
        const byPort = (port: number, reason: string): LoadBalancerRouteMessage[] =>
          routes.filter((m) => m.client.port === port && m.reason === reason);
        const before = byPort(oldPort, 'cid');
        const afterMove = byPort(newPort, 'cid');
        const owner = before[0]!.serverId;
        assert.ok(before.length > 10, `${before.length} datagrams routed by CID before the move`);
        assert.ok(afterMove.length > 10, `${afterMove.length} datagrams from the new port routed by CID`);
        assert.deepEqual(new Set([...before, ...afterMove].map((m) => m.serverId)), new Set([owner]));
        assert.equal(byPort(newPort, 'fallback').length, 0, 'nothing from the new port needed the fallback');
        const served = backends.find((b) => b.sid === owner)!;
        const other = backends.find((b) => b.sid !== owner)!;
        assert.match(served.proc.output, /peer moved 127\.0\.0\.1:\d+ -> 127\.0\.0\.1:\d+ => /);
        assert.equal(acceptedPorts(other).length, 0, 'the other backend never saw the connection');
        assert.equal(lb.stats.dropped.internal, 0);
        console.log(
          `# routed by CID to ${owner}: ${before.length} datagrams from port ${oldPort}, ${afterMove.length} from port ${newPort}`,
        );
        await conn.close();
      } finally {
        loadBalancerRouteChannel.unsubscribe(onRoute);
        await ep.close();
        lb.close();
      }
    }),
);

test(
  'a backend killed: its client falls back to the other backend, whose stateless reset (shared key) ends the connection within seconds',
  {
    timeout: 60_000,
  },
  () =>
    withWorkspace(async (ws) => {
      const cluster = await startCluster(ws, www.dir, { lbArgs: ['--health-timeout', '500'] });
      const ep = await QuicEndpoint.bind({ address: '127.0.0.1:0', idleTimeout: 30_000 });
      try {
        const c = await h3(ep, cluster.lbPort);
        await get(c, 'hello.txt');
        const port = ep.address.port;
        const victim = cluster.backends.find((b) => acceptedPorts(b).includes(port))!;
        const survivor = cluster.backends.find((b) => b !== victim)!;
        assert.ok(victim, 'one backend accepted the connection');
        victim.proc.kill('SIGKILL');
        await victim.proc.exited;
        const t0 = performance.now();
        // The client has something to send: its request is lost, then retransmitted on PTO.
        const request = c.request('GET', '/hello.txt').catch((e: unknown) => e);
        const closed = await within(
          10_000,
          c.connection.closed.then(
            () => undefined,
            (e: unknown) => e,
          ),
          'connection end',
        );
        const ms = performance.now() - t0;
        assert.ok(closed instanceof QuicStatelessResetError, `closed by ${String(closed)}`);
        assert.ok(ms < 4000, `ended after ${ms.toFixed(0)} ms (idle timeout 30 s)`);
        assert.ok((await request) instanceof QuicError, 'the pending request failed');
        await cluster.lb!.waitFor(new RegExp(`backend ${victim.sid} \\S+ down`), 1000);
        // New connections keep working on the survivor.
        const ep2 = await QuicEndpoint.bind({ address: '127.0.0.1:0' });
        try {
          const c2 = await h3(ep2, cluster.lbPort);
          await get(c2, 'f300k.bin');
          assert.ok(acceptedPorts(survivor).includes(ep2.address.port));
          await c2.connection.close();
        } finally {
          await ep2.close();
        }
        const stats = await stopAndReadStats(cluster.lb!);
        assert.deepEqual(
          stats.backends.map((b) => [b.serverId, b.live]),
          cluster.backends.map((b) => [b.sid, b !== victim]),
        );
        assert.ok(stats.routedByFallback >= 2, JSON.stringify(stats));
        console.log(`# connection ended by stateless reset ${ms.toFixed(0)} ms after the backend died`);
      } finally {
        await ep.close();
      }
    }),
);

test(
  'shared keys across backends: Retry through the LB, then a NEW_TOKEN token and a session ticket from one backend are accepted by the other',
  {
    timeout: 60_000,
  },
  () =>
    withWorkspace(async (ws) => {
      const cluster = await startCluster(ws, www.dir, { backendArgs: ['--retry'] });
      const lbPort = cluster.lbPort;
      const ep1 = await QuicEndpoint.bind({ address: '127.0.0.1:0' });
      const spare: QuicEndpoint[] = [];
      try {
        const c1 = await h3(ep1, lbPort);
        const conn1 = c1.connection;
        assert.ok(
          conn1.core.peerParameters?.retrySourceConnectionId,
          'the first connection went through a Retry',
        );
        await get(c1, 'hello.txt');
        await within(
          3000,
          waitFor(() => conn1.newToken !== undefined && conn1.sessionTicket !== undefined),
          'NEW_TOKEN and ticket',
        );
        const first = cluster.backends.find((b) => acceptedPorts(b).includes(ep1.address.port))!;
        const other = cluster.backends.find((b) => b !== first)!;
        // The LB sends a first flight by a hash of the client's random DCID: connect until one
        // lands on the other backend (each attempt has an even chance).
        let c2: H3Client | undefined;
        let ep2: QuicEndpoint | undefined;
        for (let attempt = 0; attempt < 20 && c2 === undefined; attempt++) {
          const ep = await QuicEndpoint.bind({ address: '127.0.0.1:0' });
          spare.push(ep);
          const c = await H3Client.connect(
            ep,
            { address: '127.0.0.1', port: lbPort },
            { ca: TEST_CA, serverName: 'localhost', token: conn1.newToken!, session: conn1.sessionTicket! },
          );
          await get(c, 'hello.txt');
          if (acceptedPorts(other).includes(ep.address.port)) {
            c2 = c;
            ep2 = ep;
          } else await c.connection.close();
        }
        assert.ok(c2 && ep2, 'a connection reached the other backend');
        await get(c2, 'f300k.bin');
        assert.ok(acceptedPorts(other).includes(ep2.address.port), 'served by the other backend');
        assert.equal(
          c2.connection.core.peerParameters?.retrySourceConnectionId,
          undefined,
          'token accepted: no Retry',
        );
        assert.equal(c2.connection.resumed, true, 'ticket accepted: resumed');
        assert.match(other.proc.output, /connection from 127\.0\.0\.1:\d+: ALPN h3, QUIC v1, \S+, resumed/);
        await Promise.all([c1.connection.close(), c2.connection.close()]);
      } finally {
        await Promise.all([ep1, ...spare].map((e) => e.close()));
      }
    }),
);

async function waitFor(cond: () => boolean): Promise<void> {
  while (!cond()) await new Promise((r) => setTimeout(r, 10));
}
