import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import { SeededRandom } from '../../../src/common/random.js';
import { H3ErrorCode } from '../../../src/h3/errors.js';
import type { HqEvent } from '../../../src/h3/hq-interop.js';
import { encodeHqRequest, HqInteropConnection, parseHqRequest } from '../../../src/h3/hq-interop.js';
import { FakeTransport, pump } from './fake-transport.js';

function drain(c: HqInteropConnection): HqEvent[] {
  const out: HqEvent[] = [];
  for (let e = c.poll(); e; e = c.poll()) out.push(e);
  return out;
}

function setup() {
  const ct = new FakeTransport('client');
  const st = new FakeTransport('server');
  const client = new HqInteropConnection(ct);
  const server = new HqInteropConnection(st);
  return {
    ct,
    st,
    client,
    server,
    run: (chunk?: number) => pump(ct, client, st, server, chunk ? { chunk } : {}),
  };
}

const sha = (parts: Uint8Array[]) => {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return h.digest('hex');
};

describe('hq-interop (HTTP/0.9 over QUIC)', () => {
  it('formats and parses request lines', () => {
    assert.equal(Buffer.from(encodeHqRequest('/a/b.txt')).toString(), 'GET /a/b.txt\r\n');
    assert.equal(parseHqRequest('GET /x\r\n'), '/x');
    assert.equal(parseHqRequest('GET /x\n'), '/x');
    assert.equal(parseHqRequest('GET /x'), '/x');
    assert.equal(parseHqRequest('POST /x\r\n'), undefined);
    assert.equal(parseHqRequest('GET x\r\n'), undefined);
    assert.equal(parseHqRequest('GET /a b\r\n'), undefined);
  });

  it('round-trips several concurrent downloads in memory', () => {
    const { ct, client, server, run } = setup();
    const files = new Map<string, Uint8Array>();
    const rng = new SeededRandom(99);
    for (const [name, size] of [
      ['/small.txt', 10],
      ['/medium.bin', 100_000],
      ['/large.bin', 1_500_000],
    ] as const) {
      const b = new Uint8Array(size);
      rng.fill(b);
      files.set(name, b);
    }
    const ids = new Map<number, string>();
    for (const name of files.keys()) ids.set(client.request(name), name);
    // Each request is one bidi stream carrying the request line and FIN.
    assert.deepEqual([...ids.keys()], [0, 4, 8]);
    assert.equal(Buffer.from(ct.written(4)).toString(), 'GET /medium.bin\r\n');
    assert.ok(ct.finished.has(4));
    run(7); // request lines split into 7-octet pieces
    const reqs = drain(server);
    assert.deepEqual(
      reqs.map((e) => e.type === 'request' && [e.streamId, e.path]),
      [...ids.entries()],
    );
    // The server streams each file in chunks, interleaved.
    const CH = 32 * 1024;
    let pending = true;
    for (let o = 0; pending; o += CH) {
      pending = false;
      for (const [id, name] of ids) {
        const f = files.get(name)!;
        if (o >= f.length) continue;
        const end = Math.min(f.length, o + CH);
        server.sendData(id, f.subarray(o, end), end === f.length);
        pending ||= end < f.length;
      }
    }
    run(1400);
    const got = new Map<number, Uint8Array[]>();
    const ended = new Set<number>();
    for (const e of drain(client)) {
      assert.equal(e.type, 'data');
      if (e.type !== 'data') continue;
      assert.ok(!ended.has(e.streamId));
      assert.ok(e.data.length <= 1400);
      if (!got.has(e.streamId)) got.set(e.streamId, []);
      got.get(e.streamId)!.push(e.data);
      if (e.endStream) ended.add(e.streamId);
    }
    for (const [id, name] of ids) {
      assert.ok(ended.has(id), name);
      assert.equal(sha(got.get(id)!), sha([files.get(name)!]), name);
    }
  });

  it('rejects malformed or oversized request lines with a stream reset', () => {
    const st = new FakeTransport('server');
    const server = new HqInteropConnection(st, { maxRequestLine: 64 });
    server.handleStreamData(0, new TextEncoder().encode('PUT /x\r\n'), true);
    server.handleStreamData(4, new Uint8Array(100).fill(0x41), false);
    assert.deepEqual(drain(server), [
      { type: 'reset', streamId: 0, errorCode: H3ErrorCode.H3_GENERAL_PROTOCOL_ERROR, local: true },
      { type: 'reset', streamId: 4, errorCode: H3ErrorCode.H3_GENERAL_PROTOCOL_ERROR, local: true },
    ]);
    assert.deepEqual(st.resets, [
      [0, H3ErrorCode.H3_GENERAL_PROTOCOL_ERROR],
      [4, H3ErrorCode.H3_GENERAL_PROTOCOL_ERROR],
    ]);
    // Stream 0 had ended: only stream 4 is asked to stop sending.
    assert.deepEqual(st.stops, [[4, H3ErrorCode.H3_GENERAL_PROTOCOL_ERROR]]);
    assert.equal(server.sendData(0, new Uint8Array(1), true), false);
  });

  it('accepts a request line completed by FIN without CR LF and ignores trailing octets', () => {
    const st = new FakeTransport('server');
    const server = new HqInteropConnection(st);
    server.handleStreamData(0, new TextEncoder().encode('GET /'), false);
    server.handleStreamData(0, new TextEncoder().encode('index.html'), true);
    server.handleStreamData(4, new TextEncoder().encode('GET /a\r\nextra'), true);
    assert.deepEqual(drain(server), [
      { type: 'request', streamId: 0, path: '/index.html' },
      { type: 'request', streamId: 4, path: '/a' },
    ]);
    assert.equal(server.sendData(0, new Uint8Array([1, 2]), true), true);
    assert.equal(server.sendData(0, new Uint8Array([3]), true), false);
  });

  it('handles resets, STOP_SENDING and unidirectional streams', () => {
    const { ct, st, client, server, run } = setup();
    const id = client.request('/f');
    run();
    drain(server);
    server.sendData(id, new Uint8Array(10), false);
    client.cancel(id);
    run();
    assert.deepEqual(drain(server), [
      { type: 'stop-sending', streamId: id, errorCode: H3ErrorCode.H3_REQUEST_CANCELLED },
    ]);
    assert.deepEqual(st.resets, [[id, H3ErrorCode.H3_REQUEST_CANCELLED]]);
    // Data in flight after the cancel is dropped.
    assert.deepEqual(drain(client), []);
    // A server-side reset reaches the client.
    const id2 = client.request('/g');
    run();
    drain(server);
    server.cancel(id2, 0x42);
    run();
    assert.deepEqual(drain(client), [{ type: 'reset', streamId: id2, errorCode: 0x42, local: false }]);
    // hq-interop has no unidirectional streams: the client aborts reading a server one.
    client.handleStreamData(3, new Uint8Array([0]), false);
    assert.deepEqual(ct.stops.at(-1), [3, H3ErrorCode.H3_STREAM_CREATION_ERROR]);
    client.close(0, 'done');
    assert.deepEqual(drain(client), [{ type: 'closed', errorCode: 0, reason: 'done', remote: false }]);
    assert.deepEqual(ct.closed, { errorCode: 0, reason: 'done' });
    assert.throws(() => client.request('/h'), /closed/);
  });
});
