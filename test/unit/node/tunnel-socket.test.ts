// The backend's tunnel socket (src/node/tunnel-socket.ts) against a plain UDP socket playing the
// load balancer: envelopes both ways, the trust boundary, heartbeats and goodbye.
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { test } from 'node:test';
import type { SocketAddress } from '../../../src/common/addr.js';
import { decodeEnvelope, encodeEnvelope } from '../../../src/node/envelope.js';
import type { DatagramRemoteInfo } from '../../../src/node/socket.js';
import {
  ControlType,
  canonicalAddress,
  decodeControl,
  encodeControl,
  TunnelSocket,
} from '../../../src/node/tunnel-socket.js';

const PUBLIC: SocketAddress = { address: '203.0.113.1', port: 443 };

interface FakeLb {
  readonly socket: dgram.Socket;
  readonly address: SocketAddress;
  /** Datagrams received, with their sender. */
  readonly got: { msg: Buffer; from: SocketAddress }[];
  next(pred?: (m: Buffer) => boolean): Promise<{ msg: Buffer; from: SocketAddress }>;
  close(): void;
}

async function fakeLb(): Promise<FakeLb> {
  const socket = dgram.createSocket('udp4');
  await new Promise<void>((r) => socket.bind(0, '127.0.0.1', () => r()));
  const got: { msg: Buffer; from: SocketAddress }[] = [];
  let waiters: (() => void)[] = [];
  socket.on('message', (msg, rinfo) => {
    got.push({ msg, from: { address: rinfo.address, port: rinfo.port } });
    const w = waiters;
    waiters = [];
    for (const f of w) f();
  });
  const a = socket.address();
  return {
    socket,
    address: { address: a.address, port: a.port },
    got,
    async next(pred = () => true) {
      const end = Date.now() + 2000;
      for (;;) {
        const i = got.findIndex((g) => pred(g.msg));
        if (i >= 0) return got.splice(i, 1)[0]!;
        if (Date.now() > end) throw new Error('nothing received');
        await new Promise<void>((r) => {
          waiters.push(r);
          setTimeout(r, 50);
        });
      }
    },
    close: () => socket.close(),
  };
}

const isEnvelope = (m: Buffer): boolean => decodeEnvelope(m) !== undefined;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

test('control messages: round trip, never confused with envelopes, bad ones decode to undefined', () => {
  const hb = encodeControl(ControlType.Heartbeat, Uint8Array.of(0xab, 0xcd));
  const c = decodeControl(hb)!;
  assert.equal(c.type, ControlType.Heartbeat);
  assert.deepEqual([...c.serverId], [0xab, 0xcd]);
  assert.equal(decodeEnvelope(hb), undefined);
  assert.equal(decodeControl(encodeEnvelope(PUBLIC, PUBLIC, new Uint8Array(4))), undefined);
  const bye = encodeControl(ControlType.Goodbye);
  assert.equal(decodeControl(bye)?.type, ControlType.Goodbye);
  for (const bad of [
    Uint8Array.of(0x46, 0x51, 0x80),
    Uint8Array.of(0x46, 0x51, 0x80, 3),
    Uint8Array.of(0x46, 0x52, 0x80, 1),
    new Uint8Array(20).fill(0x80),
  ])
    assert.equal(decodeControl(bad), undefined);
  assert.throws(() => encodeControl(ControlType.Heartbeat, new Uint8Array(16)), RangeError);
  assert.deepEqual(canonicalAddress({ address: '0:0:0:0:0:0:0:1', port: 1 }), { address: '::1', port: 1 });
});

test('round trip: endpoint sends become envelopes to the LB; LB envelopes become messages from the client', async () => {
  const lb = await fakeLb();
  const t = await TunnelSocket.bind({
    address: '127.0.0.1:0',
    loadBalancer: lb.address,
    publicAddress: PUBLIC,
    heartbeatInterval: 0,
  });
  const received: { msg: Buffer; rinfo: DatagramRemoteInfo }[] = [];
  t.on('message', (msg, rinfo) => received.push({ msg: Buffer.from(msg), rinfo }));
  try {
    assert.deepEqual(t.provided.local, PUBLIC);
    assert.equal(t.provided.socket, t);
    // Endpoint → client, twice to one peer (cached header) and once to an IPv6 peer.
    const sent: [string, number, Uint8Array][] = [
      ['198.51.100.7', 5000, Uint8Array.of(0x40, 1, 2, 3)],
      ['198.51.100.7', 5000, Uint8Array.of(0x41, 4)],
      ['2001:db8::7', 6000, Uint8Array.of(0x42, 5, 6)],
    ];
    for (const [address, port, data] of sent) t.send(data, port, address);
    for (const [address, port, data] of sent) {
      const { msg, from } = await lb.next(isEnvelope);
      assert.deepEqual(from, t.address, 'sent from the tunnel socket');
      const env = decodeEnvelope(msg)!;
      assert.deepEqual(env.peer, { address, port });
      assert.deepEqual(env.local, PUBLIC);
      assert.deepEqual(new Uint8Array(env.payload), data);
    }
    // LB → endpoint.
    const payload = Uint8Array.of(0xc0, 0, 0, 0, 1, 9, 9);
    const send = (b: Uint8Array, s = lb.socket): void => s.send(b, t.address.port, t.address.address);
    send(encodeEnvelope({ address: '192.0.2.44', port: 7777 }, PUBLIC, payload));
    send(
      encodeEnvelope({ address: '192.0.2.44', port: 7777 }, { address: '203.0.113.2', port: 443 }, payload),
    );
    send(Uint8Array.of(1, 2, 3));
    // A datagram from another socket: the kernel filters it (connected socket), never delivered.
    const stranger = dgram.createSocket('udp4');
    await new Promise<void>((r) => stranger.bind(0, '127.0.0.1', () => r()));
    send(encodeEnvelope({ address: '192.0.2.45', port: 1 }, PUBLIC, payload), stranger);
    await sleep(100);
    stranger.close();
    assert.equal(received.length, 1, 'only the well-formed envelope for our public address');
    assert.deepEqual(new Uint8Array(received[0]!.msg), payload);
    assert.deepEqual(received[0]!.rinfo, { address: '192.0.2.44', port: 7777 });
    const st = t.stats;
    assert.equal(st.datagramsOut, 3);
    assert.equal(st.bytesOut, 4 + 2 + 3);
    assert.equal(st.datagramsIn, 1);
    assert.equal(st.dropped.wrongLocal, 1);
    assert.equal(st.dropped.malformed, 1);
  } finally {
    t.close();
    lb.close();
  }
});

test('heartbeats carry the server ID; close() says goodbye; sends after close fail', async () => {
  const lb = await fakeLb();
  const t = await TunnelSocket.bind({
    address: '127.0.0.1:0',
    loadBalancer: lb.address,
    publicAddress: PUBLIC,
    serverId: Uint8Array.of(0x0a),
    heartbeatInterval: 20,
  });
  try {
    try {
      for (let i = 0; i < 3; i++) {
        const { msg, from } = await lb.next((m) => decodeControl(m)?.type === ControlType.Heartbeat);
        assert.deepEqual(from, t.address);
        assert.deepEqual([...decodeControl(msg)!.serverId], [0x0a]);
      }
      assert.ok(t.stats.heartbeatsSent >= 3);
    } finally {
      t.close();
    }
    const bye = await lb.next((m) => decodeControl(m)?.type === ControlType.Goodbye);
    assert.deepEqual([...decodeControl(bye.msg)!.serverId], [0x0a]);
    let error: Error | null = null;
    t.send(Uint8Array.of(0x40), 1, '192.0.2.1', (e) => {
      error = e;
    });
    assert.ok(error, 'send after close reports an error');
  } finally {
    lb.close();
  }
});

test('the tunnel and LB addresses must be of one family', async () => {
  await assert.rejects(
    TunnelSocket.bind({ address: '127.0.0.1:0', loadBalancer: '[::1]:4000', publicAddress: PUBLIC }),
    RangeError,
  );
});
