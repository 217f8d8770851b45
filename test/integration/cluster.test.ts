// startClusterServer (src/node/cluster.ts) with 4 real worker processes on loopback, driven by
// library clients in this process: connections spread over the workers, every datagram reaches
// the connection's owner through migration and NAT rebinding, shared keys make tokens, tickets
// and stateless resets work on any worker, and a killed worker comes back under its index.
import assert from 'node:assert/strict';
import cluster from 'node:cluster';
import { createHash } from 'node:crypto';
import dgram from 'node:dgram';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { SocketAddress } from '../../src/common/addr.js';
import {
  type ClusterEvent,
  type ClusterPrimary,
  type ClusterWorkerStats,
  startClusterServer,
} from '../../src/node/cluster.js';
import { encodeEnvelope } from '../../src/node/envelope.js';
import { type QuicConnection, QuicStatelessResetError } from '../../src/node/index.js';
import {
  clientTls,
  hashStream,
  payload,
  readAll,
  requestDownload,
  sha256,
  startClient,
  within,
} from './support.js';

const FIXTURE = fileURLToPath(new URL('./cluster-fixture.js', import.meta.url));
const WORKERS = 4;
const MiB = 1024 * 1024;

let primary: ClusterPrimary;
const events: ClusterEvent[] = [];
let workerStderr = '';
const eventWaiters: { match: (e: ClusterEvent) => boolean; resolve: (e: ClusterEvent) => void }[] = [];

function nextClusterEvent(match: (e: ClusterEvent) => boolean): Promise<ClusterEvent> {
  return new Promise((resolve) => eventWaiters.push({ match, resolve }));
}

const sum = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0);

/** Per-index difference of one counter between two stats snapshots. */
function delta(
  a: readonly ClusterWorkerStats[],
  b: readonly ClusterWorkerStats[],
  k: keyof ClusterWorkerStats,
): number[] {
  return b.map((s) => {
    const old = a.find((x) => x.index === s.index && x.generation === s.generation);
    return (s[k] as number) - ((old?.[k] as number | undefined) ?? 0);
  });
}

async function who(conn: QuicConnection): Promise<number> {
  const s = await conn.openStream();
  const w = s.writable.getWriter();
  await w.write(new TextEncoder().encode('who'));
  await w.close();
  return Number(new TextDecoder().decode(await readAll(s.readable)));
}

async function until(cond: () => boolean, ms: number, what: string): Promise<void> {
  const end = performance.now() + ms;
  while (!cond()) {
    if (performance.now() > end) throw new Error(`${what}: not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Downloads `size` octets, calling `during` once after `at` octets; returns size and sha256. */
async function downloadWith(
  conn: QuicConnection,
  size: number,
  at: number,
  during: () => void,
): Promise<{ size: number; sha256: string }> {
  const reader = (await requestDownload(conn, size)).getReader();
  const h = createHash('sha256');
  let got = 0;
  let done = false;
  for (let r = await reader.read(); !r.done; r = await reader.read()) {
    h.update(r.value);
    got += r.value.length;
    if (!done && got >= at) {
      done = true;
      during();
    }
  }
  return { size: got, sha256: h.digest('hex') };
}

/** A NAT between a client and the cluster: rebind() moves its outside to a new port. */
class NatBox {
  readonly inside: dgram.Socket;
  outside: dgram.Socket;
  readonly #target: SocketAddress;
  #client: dgram.RemoteInfo | undefined;
  fromServerAfterRebind = 0;
  #rebound = false;

  private constructor(inside: dgram.Socket, outside: dgram.Socket, target: SocketAddress) {
    this.inside = inside;
    this.outside = outside;
    this.#target = target;
    inside.on('message', (m, r) => {
      this.#client = r;
      this.outside.send(m, target.port, target.address);
    });
    this.#wire(outside);
  }

  static async create(target: SocketAddress): Promise<NatBox> {
    return new NatBox(await bound(), await bound(), target);
  }

  get address(): SocketAddress {
    const a = this.inside.address();
    return { address: a.address, port: a.port };
  }

  async rebind(): Promise<void> {
    const old = this.outside;
    this.outside = await bound();
    this.#rebound = true;
    this.#wire(this.outside);
    old.close();
  }

  #wire(out: dgram.Socket): void {
    out.on('message', (m) => {
      if (out !== this.outside || !this.#client) return;
      if (this.#rebound) this.fromServerAfterRebind++;
      this.inside.send(m, this.#client.port, this.#client.address);
    });
  }

  close(): void {
    this.inside.close();
    this.outside.close();
  }

  get target(): SocketAddress {
    return this.#target;
  }
}

async function bound(): Promise<dgram.Socket> {
  const s = dgram.createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
  return s;
}

before(async () => {
  cluster.on('fork', (w) => {
    w.process.stdout?.resume();
    w.process.stderr?.on('data', (d: Buffer) => {
      workerStderr = (workerStderr + d.toString()).slice(-8000);
    });
  });
  const t0 = performance.now();
  const part = await startClusterServer({
    workers: WORKERS,
    address: '127.0.0.1:0',
    exec: FIXTURE,
    args: [],
    execArgv: [],
    silent: true,
    handleSignals: false,
    start: () => Promise.reject(new Error('the primary starts no endpoint')),
    onEvent: (e) => {
      events.push(e);
      for (const w of eventWaiters.splice(0)) {
        if (w.match(e)) w.resolve(e);
        else eventWaiters.push(w);
      }
    },
  });
  assert.equal(part.role, 'primary');
  primary = part as ClusterPrimary;
  assert.ok(performance.now() - t0 < 10_000);
});

after(async () => {
  await primary?.close();
});

describe('cluster of 4 worker processes', () => {
  test('starts every worker under its index, on one shared public address', { timeout: 10_000 }, async () => {
    assert.equal(primary.workers, WORKERS);
    assert.equal(primary.address.address, '127.0.0.1');
    assert.ok(primary.address.port > 0);
    const procs = primary.processes;
    assert.deepEqual(
      procs.map((p) => [p.index, p.state, p.generation]),
      [0, 1, 2, 3].map((i) => [i, 'ready', 0]),
    );
    assert.equal(new Set(procs.map((p) => p.pid)).size, WORKERS);
    assert.equal(new Set(procs.map((p) => p.forwardPort)).size, WORKERS);
    assert.ok(!procs.some((p) => p.forwardPort === primary.address.port));
    const stats = await primary.stats();
    assert.deepEqual(
      stats.map((s) => s.index),
      [0, 1, 2, 3],
    );
    assert.deepEqual(
      stats.map((s) => s.pid),
      procs.map((p) => p.pid),
    );
  });

  test('24 client endpoints (24 4-tuples): byte-exact downloads, accepted by at least 3 workers', {
    timeout: 40_000,
  }, async () => {
    const before = await primary.stats();
    const size = 256 * 1024;
    const expected = sha256(payload(size, 7));
    const owners: number[] = [];
    const ports = new Set<number>();
    await Promise.all(
      Array.from({ length: 24 }, async () => {
        const client = await startClient();
        try {
          const conn = await within(10_000, client.connect(primary.address, { alpn: 'test', ...clientTls }));
          ports.add(conn.localAddress.port);
          const [w, r] = await Promise.all([
            who(conn),
            requestDownload(conn, size).then((s) => hashStream(s)),
          ]);
          assert.equal(r.size, size);
          assert.equal(r.sha256, expected);
          owners.push(w);
        } finally {
          await client.close();
        }
      }),
    );
    assert.equal(ports.size, 24);
    const after = await primary.stats();
    const accepted = delta(before, after, 'connectionsAccepted');
    assert.equal(sum(accepted), 24, JSON.stringify(after));
    assert.ok(accepted.filter((n) => n > 0).length >= 3, `accepted per worker: ${accepted}`);
    // Each client's answer names the worker that counted its connection.
    for (let w = 0; w < WORKERS; w++) assert.equal(owners.filter((o) => o === w).length, accepted[w]);
    // Every new client got a Retry (fixture), whose SCID routed its next Initial back.
    assert.equal(sum(delta(before, after, 'retriesSent')), 24);
    assert.ok(sum(delta(before, after, 'forwarded')) > 0);
    assert.equal(sum(delta(before, after, 'dropped')), 0);
  });

  test('a ticket and a NEW_TOKEN from one worker are honoured by another (resumption, 0-RTT, no Retry)', {
    timeout: 30_000,
  }, async () => {
    const first = await startClient();
    let issuer: number;
    let ticket: Uint8Array;
    let token: Uint8Array;
    try {
      const conn = await first.connect(primary.address, { alpn: 'test', ...clientTls });
      issuer = await who(conn);
      await until(() => conn.sessionTicket !== undefined && conn.newToken !== undefined, 5000, 'ticket');
      ticket = conn.sessionTicket!;
      token = conn.newToken!;
    } finally {
      await first.close();
    }
    const before = await primary.stats();
    let crossWorker = 0;
    let rounds = 0;
    for (; rounds < 16 && crossWorker < 2; rounds++) {
      const client = await startClient();
      try {
        const conn = await client.connectEarly(primary.address, {
          alpn: 'test',
          ...clientTls,
          session: ticket,
          earlyData: true,
          token,
        });
        const answer = who(conn); // sent in 0-RTT
        assert.equal(conn.handshakeComplete, false);
        const info = await within(5000, conn.opened, 'handshake');
        assert.equal(info.resumed, true);
        assert.equal(conn.earlyDataAccepted, true, `round ${rounds}`);
        const w = await within(5000, answer, 'who');
        if (w !== issuer) crossWorker++;
        // The next round uses what this worker issued.
        await until(() => conn.sessionTicket !== undefined && conn.newToken !== undefined, 5000, 'ticket');
        ticket = conn.sessionTicket!;
        token = conn.newToken!;
        issuer = w;
      } finally {
        await client.close();
      }
    }
    assert.ok(crossWorker >= 1, `no resumption landed on another worker in ${rounds} rounds`);
    const after = await primary.stats();
    assert.equal(sum(delta(before, after, 'retriesSent')), 0, 'NEW_TOKENs validated on every worker');
    assert.equal(sum(delta(before, after, 'connectionsAccepted')), rounds);
  });

  test('client migrate() to a new local socket mid-download: byte-exact, the owner keeps it', {
    timeout: 30_000,
  }, async () => {
    const client = await startClient();
    try {
      const conn = await client.connect(primary.address, { alpn: 'test', ...clientTls });
      const owner = await who(conn);
      const before = await primary.stats();
      const oldLocal = conn.localAddress;
      const size = 8 * MiB;
      let migration: Promise<unknown> | undefined;
      const r = await within(
        20_000,
        downloadWith(conn, size, MiB, () => {
          migration = conn.migrate();
        }),
        'download',
      );
      assert.equal(r.size, size);
      assert.equal(r.sha256, sha256(payload(size, 7)));
      await within(5000, migration!, 'migrate');
      assert.notEqual(conn.localAddress.port, oldLocal.port);
      assert.equal(await who(conn), owner);
      const after = await primary.stats();
      assert.ok(sum(delta(before, after, 'forwarded')) > 0);
      assert.ok(delta(before, after, 'receivedForwarded')[owner]! > 0);
      assert.equal(sum(delta(before, after, 'connectionsAccepted')), 0);
      assert.equal(sum(delta(before, after, 'dropped')), 0);
    } finally {
      await client.close();
    }
  });

  test('NAT rebinding mid-download (the client never knows): byte-exact, the owner keeps it', {
    timeout: 30_000,
  }, async () => {
    const nat = await NatBox.create(primary.address);
    const client = await startClient();
    try {
      const conn = await client.connect(nat.address, { alpn: 'test', ...clientTls });
      const owner = await who(conn);
      const before = await primary.stats();
      const size = 8 * MiB;
      let rebinding: Promise<void> | undefined;
      const r = await within(
        20_000,
        downloadWith(conn, size, MiB, () => {
          rebinding = nat.rebind();
        }),
        'download',
      );
      await rebinding;
      assert.equal(r.size, size);
      assert.equal(r.sha256, sha256(payload(size, 7)));
      assert.ok(nat.fromServerAfterRebind > 0, 'the server answered the new address');
      assert.deepEqual(conn.remoteAddress, nat.address);
      assert.equal(await who(conn), owner);
      const after = await primary.stats();
      assert.ok(sum(delta(before, after, 'forwarded')) > 0);
      assert.equal(sum(delta(before, after, 'connectionsAccepted')), 0);
    } finally {
      await client.close();
      nat.close();
    }
  });

  test('a forwarding port accepts nothing from outside the cluster (trust boundary)', {
    timeout: 10_000,
  }, async () => {
    const target = primary.processes[0]!;
    const before = await primary.stats();
    const s = await bound();
    try {
      const forged = encodeEnvelope({ address: '127.0.0.1', port: 1234 }, primary.address, payload(1200, 1));
      for (const d of [forged, forged, Buffer.from('hello')]) s.send(d, target.forwardPort, '127.0.0.1');
      let after = await primary.stats();
      for (let i = 0; i < 100 && delta(before, after, 'untrusted')[0] !== 3; i++) {
        await new Promise((r) => setTimeout(r, 20));
        after = await primary.stats();
      }
      assert.equal(delta(before, after, 'untrusted')[0], 3);
      assert.equal(delta(before, after, 'receivedForwarded')[0], 0);
      assert.equal(sum(delta(before, after, 'connectionsAccepted')), 0);
    } finally {
      s.close();
    }
  });

  test('a killed worker restarts under its index; its old connections get a stateless reset', {
    timeout: 40_000,
  }, async () => {
    const client = await startClient();
    try {
      const conn = await client.connect(primary.address, { alpn: 'test', ...clientTls });
      const victim = await who(conn);
      // Let the connection go quiet, so that the next datagram it sends is the one below.
      await new Promise((r) => setTimeout(r, 300));
      const old = primary.processes[victim]!;
      const restarted = nextClusterEvent(
        (e) => e.type === 'ready' && e.index === victim && e.generation === old.generation + 1,
      );
      process.kill(old.pid!, 'SIGKILL');
      await within(10_000, restarted, 'restart');
      const now = primary.processes[victim]!;
      assert.equal(now.state, 'ready');
      assert.notEqual(now.pid, old.pid);
      assert.notEqual(now.forwardPort, 0);
      assert.ok(primary.restarts >= 1);
      assert.ok(
        events.some((e) => e.type === 'exit' && e.index === victim && e.signal === 'SIGKILL'),
        JSON.stringify(events),
      );
      // The connection's CIDs still name the worker; its new process resets them (shared key;
      // while it was down, any other worker would have).
      const closed = conn.closed.then(
        () => undefined,
        (e: unknown) => e,
      );
      void who(conn).catch(() => {});
      const err = await within(5000, closed, 'stateless reset');
      assert.ok(err instanceof QuicStatelessResetError, String(err));
      const stats = await primary.stats();
      const mine = stats.find((s) => s.index === victim)!;
      assert.equal(mine.generation, old.generation + 1);
      assert.ok(mine.statelessResetsSent >= 1, JSON.stringify(stats));
      // New connections keep working, on the restarted worker too.
      let onVictim = false;
      for (let i = 0; i < 32 && !onVictim; i++) {
        const c = await startClient();
        try {
          const k = await c.connect(primary.address, { alpn: 'test', ...clientTls });
          if ((await who(k)) !== victim) continue;
          onVictim = true;
          const r = await hashStream(await requestDownload(k, MiB));
          assert.equal(r.sha256, sha256(payload(MiB, 7)));
        } finally {
          await c.close();
        }
      }
      assert.ok(onVictim, 'no new connection reached the restarted worker');
    } finally {
      await client.close();
    }
  });

  test('close() stops every worker cleanly (endpoint closed, exit code 0)', { timeout: 15_000 }, async () => {
    const live = primary.processes.map((p) => p.pid);
    const exits = events.length;
    await primary.close();
    const after = events.slice(exits).filter((e) => e.type === 'exit');
    assert.deepEqual(after.map((e) => e.pid).sort(), [...live].sort(), workerStderr);
    for (const e of after) assert.equal(e.type === 'exit' && e.code, 0);
    assert.ok(primary.processes.every((p) => p.state === 'down'));
    assert.deepEqual(await primary.stats(), []);
  });
});

test('a worker that cannot start fails the start with its error, and no worker is left', {
  timeout: 20_000,
}, async () => {
  const seen: ClusterEvent[] = [];
  await assert.rejects(
    startClusterServer({
      workers: 2,
      address: '127.0.0.1:0',
      exec: FIXTURE,
      args: [],
      execArgv: [],
      silent: true,
      handleSignals: false,
      env: { FQ_FIXTURE_FAIL: '1' },
      start: () => Promise.reject(new Error('the primary starts no endpoint')),
      onEvent: (e) => seen.push(e),
    }),
    /worker \d: fixture start failure/,
  );
  await until(() => seen.filter((e) => e.type === 'exit').length === 2, 5000, 'both workers exited');
  assert.ok(!seen.some((e) => e.type === 'ready' || e.type === 'restart'));
});
