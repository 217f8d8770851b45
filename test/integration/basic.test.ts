import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { QuicConnection, QuicEndpoint } from '../../src/node/index.js';
import {
  clientTls,
  echo,
  hashStream,
  payload,
  requestDownload,
  sha256,
  startClient,
  startServer,
  within,
} from './support.js';

let server: QuicEndpoint;
let client: QuicEndpoint;
let conn: QuicConnection;
const accepted: QuicConnection[] = [];
let firstAccepted: Promise<QuicConnection>;

before(async () => {
  server = await startServer();
  client = await startClient();
  let onAccept: (c: QuicConnection) => void = () => {};
  firstAccepted = new Promise((r) => {
    onAccept = r;
  });
  // Streams whose request starts with 'E' are echoed, the others are downloads.
  void (async () => {
    for await (const c of server) {
      accepted.push(c);
      onAccept(c);
      void (async () => {
        for await (const s of c.incomingStreams) {
          void (async () => {
            const reader = s.readable.getReader();
            const first = await reader.read();
            const writer = s.writable.getWriter();
            if (first.done) {
              await writer.close();
              return;
            }
            if (first.value[0] === 0x52) {
              // 'R': abandon both directions.
              s.reset(99);
              s.stopSending(98);
              return;
            }
            if (first.value[0] === 0x45) {
              await writer.write(first.value.subarray(1));
              for (let r = await reader.read(); !r.done; r = await reader.read()) await writer.write(r.value);
              await writer.close();
              return;
            }
            let text = new TextDecoder().decode(first.value);
            for (let r = await reader.read(); !r.done; r = await reader.read())
              text += new TextDecoder().decode(r.value);
            const data = payload(Number(text), 7);
            for (let o = 0; o < data.length; o += 65536) await writer.write(data.subarray(o, o + 65536));
            await writer.close();
          })().catch(() => {});
        }
      })().catch(() => {});
    }
  })();
  conn = await within(5000, client.connect(server.address, { alpn: 'test', ...clientTls }), 'connect');
});

after(async () => {
  await client.close();
  await server.close();
});

test('handshake: ALPN, addresses, accepted server connection', { timeout: 10_000 }, async () => {
  assert.equal(conn.alpn, 'test');
  assert.equal(conn.role, 'client');
  assert.deepEqual(conn.remoteAddress, server.address);
  assert.deepEqual(conn.localAddress, client.address);
  assert.equal(conn.handshakeComplete, true);
  await within(5000, firstAccepted, 'accept');
  assert.equal(accepted.length, 1);
  assert.equal(accepted[0]!.role, 'server');
  assert.equal(accepted[0]!.alpn, 'test');
  assert.deepEqual(accepted[0]!.remoteAddress, client.address);
});

test('echo on a bidirectional stream (writer chunks are copied)', { timeout: 10_000 }, async () => {
  const data = payload(300_000, 3);
  const s = await conn.openStream();
  const w = s.writable.getWriter();
  // Reuse one buffer for every chunk: the runtime must copy what it hands to the core.
  const chunk = new Uint8Array(1000);
  const reading = hashStream(s.readable);
  await w.write(new Uint8Array([0x45]));
  for (let o = 0; o < data.length; o += chunk.length) {
    chunk.set(data.subarray(o, o + chunk.length));
    await w.write(chunk);
  }
  await w.close();
  const r = await within(5000, reading, 'echo');
  assert.equal(r.size, data.length);
  assert.equal(r.sha256, sha256(data));
  await within(5000, s.closed, 'stream closed');
});

test('10 MB download is byte-exact', { timeout: 20_000 }, async () => {
  const size = 10 * 1024 * 1024;
  const r = await within(15_000, hashStream(await requestDownload(conn, size)), 'download');
  assert.equal(r.size, size);
  assert.equal(r.sha256, sha256(payload(size, 7)));
});

test('50 parallel streams', { timeout: 20_000 }, async () => {
  const sizes = Array.from({ length: 50 }, (_, i) => 1000 + i * 7919);
  const results = await within(
    15_000,
    Promise.all(sizes.map(async (n) => hashStream(await requestDownload(conn, n)))),
    'parallel downloads',
  );
  for (let i = 0; i < sizes.length; i++) {
    assert.equal(results[i]!.size, sizes[i]);
    assert.equal(results[i]!.sha256, sha256(payload(sizes[i]!, 7)));
  }
});

test('datagrams in both directions', { timeout: 10_000 }, async () => {
  const peer = accepted[0]!;
  assert.ok(conn.maxDatagramSize >= 1000, `maxDatagramSize ${conn.maxDatagramSize}`);
  // Server echoes each datagram back with its first octet incremented.
  void (async () => {
    for await (const d of peer.datagrams) {
      const out = new Uint8Array(d);
      out[0] = (out[0]! + 1) & 0xff;
      peer.sendDatagram(out);
    }
  })();
  const got: Uint8Array[] = [];
  const iter = conn.datagrams[Symbol.asyncIterator]();
  // Datagrams are unreliable: resend until an answer arrives (loopback rarely drops).
  for (let i = 0; i < 5 && got.length < 5; i++) {
    const d = new Uint8Array(1000).fill(i);
    d[0] = 10 * i;
    assert.equal(conn.sendDatagram(d), true);
    const r = await within(2000, iter.next(), 'datagram echo');
    assert.equal(r.done, false);
    got.push(r.value);
  }
  assert.equal(got.length, 5);
  for (let i = 0; i < 5; i++) {
    assert.equal(got[i]!.length, 1000);
    assert.equal(got[i]![0], 10 * i + 1);
    assert.equal(got[i]![999], i);
  }
  assert.equal(conn.sendDatagram(new Uint8Array(conn.maxDatagramSize + 1)), false);
});

test('peer reset and stop-sending surface as QuicStreamResetError', { timeout: 10_000 }, async () => {
  const s = await conn.openStream();
  // Reset our sending side: the server's reader fails with the code.
  s.reset(77);
  const w = s.writable.getWriter();
  await assert.rejects(w.write(new Uint8Array([1])), {
    code: 'ERR_QUIC_STREAM_RESET',
    errorCode: 77,
    remote: false,
  });
  s.stopSending(5);
  await assert.rejects(s.readable.getReader().read(), { code: 'ERR_QUIC_STREAM_RESET', errorCode: 5 });
  await s.closed;

  // The peer resets its side and stops reading ours.
  const r = await conn.openStream();
  const rw = r.writable.getWriter();
  await rw.write(new Uint8Array([0x52]));
  await assert.rejects(within(5000, r.readable.getReader().read()), {
    name: 'QuicStreamResetError',
    code: 'ERR_QUIC_STREAM_RESET',
    errorCode: 99,
    kind: 'reset',
    remote: true,
  });
  await assert.rejects(within(5000, r.closed), { code: 'ERR_QUIC_STREAM_RESET' });
  // STOP_SENDING(98) reaches us too: writes fail with it.
  await assert.rejects(
    within(
      5000,
      (async () => {
        for (;;) await rw.write(new Uint8Array(1000));
      })(),
    ),
    { code: 'ERR_QUIC_STREAM_RESET', errorCode: 98, kind: 'stop-sending' },
  );

  const back = await echo(conn, new Uint8Array([0x45, 1, 2, 3]));
  assert.deepEqual(back, new Uint8Array([1, 2, 3]));
});

test('endpoint statistics count datagrams', () => {
  const st = client.stats;
  assert.ok(st.datagramsReceived > 1000);
  assert.ok(st.datagramsSent > 100);
  assert.equal(st.sendErrors, 0);
  assert.equal(st.coreErrors, 0);
  assert.equal(st.connections, 1);
  const cs = conn.stats();
  assert.ok(cs.packetsReceived > 1000);
  assert.equal(conn.paths().length >= 1, true);
});

test('a reader that stops reading pushes back on the sender (flow control)', {
  timeout: 20_000,
}, async () => {
  const size = 40 * 1024 * 1024;
  const s = await conn.openStream();
  const w = s.writable.getWriter();
  await w.write(new TextEncoder().encode(String(size)));
  await w.close();
  const reader = s.readable.getReader();
  const first = await within(5000, reader.read(), 'first chunk');
  assert.equal(first.done, false);
  const received0 = conn.stats().bytesReceived;
  await new Promise((r) => setTimeout(r, 400));
  // Nothing consumed the web stream: the runtime stopped pulling from the core once its queue
  // (256 KiB) was full, so the peer ran out of stream credit long before 40 MB.
  assert.ok(s.bytesRead <= 256 * 1024 + 64 * 1024 + first.value!.length, `bytesRead ${s.bytesRead}`);
  const received1 = conn.stats().bytesReceived;
  await new Promise((r) => setTimeout(r, 200));
  assert.equal(conn.stats().bytesReceived - received1 < 64 * 1024, true, 'the peer is blocked');
  assert.ok(received1 - received0 < 20 * 1024 * 1024);
  const h = (await import('node:crypto')).createHash('sha256').update(first.value!);
  let n = first.value!.length;
  for (let r = await reader.read(); !r.done; r = await reader.read()) {
    h.update(r.value);
    n += r.value.length;
  }
  assert.equal(n, size);
  assert.equal(h.digest('hex'), sha256(payload(size, 7)));
});
