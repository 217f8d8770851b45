import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import { SeededRandom } from '../../../src/common/random.js';
import type { H3ConnectionOptions, H3Event } from '../../../src/h3/connection.js';
import { H3Connection } from '../../../src/h3/connection.js';
import { H3ErrorCode, isGrease } from '../../../src/h3/errors.js';
import { encodeFrame, encodeIdFrame, encodeSettingsFrame, FrameType } from '../../../src/h3/frames.js';
import { QpackEncoder } from '../../../src/h3/qpack/encoder.js';
import type { FieldLine } from '../../../src/h3/qpack/types.js';
import { deliver, FakeTransport, pump } from './fake-transport.js';

const E = H3ErrorCode;
const text = new TextEncoder();

function cat(...parts: (Uint8Array | number[])[]): Uint8Array {
  const arrays = parts.map((p) => (p instanceof Uint8Array ? p : new Uint8Array(p)));
  const out = new Uint8Array(arrays.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of arrays) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

function drain(c: { poll(): H3Event | undefined }): H3Event[] {
  const out: H3Event[] = [];
  for (let e = c.poll(); e; e = c.poll()) out.push(e);
  return out;
}

function pair(clientOpts: H3ConnectionOptions = {}, serverOpts: H3ConnectionOptions = {}) {
  const ct = new FakeTransport('client');
  const st = new FakeTransport('server');
  const client = new H3Connection(ct, { random: new SeededRandom(1), ...clientOpts });
  const server = new H3Connection(st, { random: new SeededRandom(2), ...serverOpts });
  return {
    ct,
    st,
    client,
    server,
    run: (chunk?: number) => pump(ct, client, st, server, chunk ? { chunk } : {}),
  };
}

/** A lone endpoint fed raw peer bytes. */
function lone(role: 'client' | 'server', opts: H3ConnectionOptions = {}) {
  const t = new FakeTransport(role);
  const h = new H3Connection(t, { random: new SeededRandom(3), ...opts });
  return { t, h };
}

const SETTINGS = encodeSettingsFrame([]);
const control = (...frames: Uint8Array[]) => cat([0x00], SETTINGS, ...frames);
const headersFrame = (lines: FieldLine[]) =>
  encodeFrame(FrameType.HEADERS, new QpackEncoder().encodeFieldSection(0, lines));
const dataFrame = (s: string | Uint8Array) =>
  encodeFrame(FrameType.DATA, typeof s === 'string' ? text.encode(s) : s);

const GET: FieldLine[] = [
  [':method', 'GET'],
  [':scheme', 'https'],
  [':authority', 'example.org'],
  [':path', '/'],
];
const POST = (len?: number): FieldLine[] => [
  [':method', 'POST'],
  [':scheme', 'https'],
  [':authority', 'example.org'],
  [':path', '/upload'],
  ...(len === undefined ? [] : [['content-length', String(len)] as FieldLine]),
];
const OK: FieldLine[] = [[':status', '200']];

function closedWith(h: H3Connection, t: FakeTransport, code: number, why: string): void {
  assert.equal(
    t.closed?.errorCode,
    code,
    `${why}: transport closed with 0x${t.closed?.errorCode.toString(16)} (${t.closed?.reason})`,
  );
  const last = drain(h).at(-1);
  assert.deepEqual(last && last.type === 'closed' && [last.errorCode, last.remote], [code, false], why);
  assert.equal(h.closed, true);
}

function body(n: number, seed: number): Uint8Array {
  const b = new Uint8Array(n);
  new SeededRandom(seed).fill(b);
  return b;
}

const sha = (...parts: Uint8Array[]) => {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return h.digest('hex');
};

describe('H3Connection: requests and responses', () => {
  it('opens control and QPACK streams with SETTINGS (and GREASE) first', () => {
    const { ct, client, server, run } = pair({
      maxFieldSectionSize: 10000,
      qpackMaxTableCapacity: 1024,
      qpackBlockedStreams: 3,
    });
    // Client uni streams 2 (control), 6 (encoder), 10 (decoder).
    assert.deepEqual([...ct.written(2).subarray(0, 2)], [0x00, FrameType.SETTINGS]);
    assert.deepEqual([...ct.written(6)], [0x02]);
    assert.deepEqual([...ct.written(10)], [0x03]);
    run();
    const ev = drain(server);
    assert.equal(ev.length, 1);
    const s = ev[0]!;
    assert.ok(s.type === 'settings');
    assert.equal(s.settings.maxFieldSectionSize, 10000);
    assert.equal(s.settings.qpackMaxTableCapacity, 1024);
    assert.equal(s.settings.qpackBlockedStreams, 3);
    assert.ok(
      s.settings.parameters.some(([id]) => isGrease(id)),
      'a GREASE setting is sent',
    );
    assert.equal(server.peerSettings.maxFieldSectionSize, 10000);
    assert.equal(drain(client)[0]!.type, 'settings');
  });

  it('GET with a small response', () => {
    const { client, server, run } = pair();
    run();
    drain(client);
    drain(server);
    const id = client.request(
      {
        ':method': 'GET',
        ':scheme': 'https',
        ':authority': 'example.org',
        ':path': '/hello',
        'User-Agent': 'test',
      },
      { endStream: true },
    );
    assert.equal(id, 0);
    run();
    assert.deepEqual(drain(server), [
      {
        type: 'headers',
        streamId: 0,
        headers: [
          [':method', 'GET'],
          [':scheme', 'https'],
          [':authority', 'example.org'],
          [':path', '/hello'],
          ['user-agent', 'test'],
        ],
        endStream: true,
      },
    ]);
    server.respond(0, 200, [['content-type', 'text/plain']]);
    assert.equal(server.sendData(0, text.encode('hello'), true), true);
    run();
    const ev = drain(client);
    assert.deepEqual(ev[0], {
      type: 'headers',
      streamId: 0,
      headers: [
        [':status', '200'],
        ['content-type', 'text/plain'],
      ],
      endStream: false,
    });
    assert.equal(ev[1]!.type, 'data');
    assert.equal(Buffer.from((ev[1] as { data: Uint8Array }).data).toString(), 'hello');
    assert.equal((ev[1] as { endStream: boolean }).endStream, true);
    assert.equal(ev.length, 2);
  });

  it('POST with large streamed bodies and trailers in both directions', () => {
    const { client, server, run } = pair();
    run();
    drain(client);
    drain(server);
    const reqBody = body(3_000_000, 11);
    const id = client.request(POST(reqBody.length));
    const CH = 16384;
    for (let o = 0; o < reqBody.length; o += CH) client.sendData(id, reqBody.subarray(o, o + CH));
    client.sendTrailers(id, { 'x-checksum': sha(reqBody) });
    // Deliver in 1000-octet pieces: frames are split everywhere.
    run(1000);
    const sev = drain(server);
    assert.equal(sev[0]!.type, 'headers');
    const parts: Uint8Array[] = [];
    let maxPiece = 0;
    for (const e of sev.slice(1, -1)) {
      assert.equal(e.type, 'data');
      const d = (e as { data: Uint8Array }).data;
      parts.push(d);
      maxPiece = Math.max(maxPiece, d.length);
    }
    // Content is streamed as it arrives, never collected into one buffer.
    assert.ok(maxPiece <= 1000, `largest data event ${maxPiece}`);
    assert.equal(sha(...parts), sha(reqBody));
    assert.deepEqual(sev.at(-1), {
      type: 'trailers',
      streamId: id,
      headers: [['x-checksum', sha(reqBody)]],
      endStream: true,
    });

    const resBody = body(2_000_000, 12);
    server.respond(id, 200, { 'content-length': String(resBody.length) });
    for (let o = 0; o < resBody.length; o += 50_000) server.sendData(id, resBody.subarray(o, o + 50_000));
    server.sendTrailers(id, [['x-done', '1']]);
    run(1200);
    const cev = drain(client);
    assert.equal(cev[0]!.type, 'headers');
    const got = cev.filter((e) => e.type === 'data').map((e) => (e as { data: Uint8Array }).data);
    assert.equal(sha(...got), sha(resBody));
    assert.deepEqual(cev.at(-1), {
      type: 'trailers',
      streamId: id,
      headers: [['x-done', '1']],
      endStream: true,
    });
    // Both sides forgot the finished stream.
    assert.equal(client.sendData(id, new Uint8Array(1)), false);
  });

  it('reports FIN after the last frame as empty data with endStream', () => {
    const { client, server, run } = pair();
    run();
    drain(server);
    const id = client.request(POST());
    client.sendData(id, text.encode('abc'));
    run();
    const first = drain(server);
    client.sendData(id, new Uint8Array(0), true);
    run();
    const ev = [...first, ...drain(server)];
    assert.deepEqual(
      ev.map((e) => [e.type, (e as { endStream?: boolean }).endStream]),
      [
        ['headers', false],
        ['data', false],
        ['data', true],
      ],
    );
    assert.equal((ev[2] as { data: Uint8Array }).data.length, 0);
    // When the FIN comes before the application polled, it marks the last queued event.
    const id2 = client.request(POST());
    client.sendData(id2, text.encode('abc'));
    run();
    client.sendData(id2, new Uint8Array(0), true);
    run();
    assert.deepEqual(
      drain(server).map((e) => [e.type, (e as { endStream?: boolean }).endStream]),
      [
        ['headers', false],
        ['data', true],
      ],
    );
  });

  it('passes interim (1xx) responses before the final response', () => {
    const { client, server, run } = pair();
    run();
    const id = client.request(GET, { endStream: true });
    run();
    server.respond(id, 103, { link: '</style.css>; rel=preload' });
    server.respond(id, 200, {}, { endStream: true });
    run();
    const ev = drain(client).filter((e) => e.type === 'headers');
    assert.deepEqual(
      ev.map((e) => (e as { headers: FieldLine[] }).headers[0]),
      [
        [':status', '103'],
        [':status', '200'],
      ],
    );
    assert.equal((ev[1] as { endStream: boolean }).endStream, true);
    assert.throws(() => server.respond(id, 200), /unknown request stream/);
  });

  it('accepts a HEAD response with content-length and no content', () => {
    const { client, server, run } = pair();
    run();
    const id = client.request(
      [...GET.map(([n, v]) => [n, n === ':method' ? 'HEAD' : v] as [string, string])],
      { endStream: true },
    );
    run();
    server.respond(id, 200, { 'content-length': '1234' }, { endStream: true });
    run();
    const ev = drain(client);
    assert.equal(ev.filter((e) => e.type === 'reset').length, 0);
    assert.equal(ev.at(-1)!.type, 'headers');
  });

  it('uses the dynamic table and unblocks a request whose encoder instructions arrive late', () => {
    const { ct, st, client, server } = pair();
    pump(ct, client, st, server);
    drain(server);
    const headers: FieldLine[] = [...GET, ['x-token-name', 'a-fairly-long-and-repeated-value']];
    const id = client.request(headers, { endStream: true });
    // The client's encoder stream (6) now has instructions; hold them back.
    assert.ok(
      ct.outbox.some((a) => a.kind === 'data' && a.streamId === 6),
      'encoder instructions were written',
    );
    deliver(ct, server, { filter: (a) => a.streamId !== 6 });
    assert.deepEqual(drain(server), [], 'the request is blocked');
    deliver(ct, server);
    const ev = drain(server);
    assert.deepEqual(ev, [{ type: 'headers', streamId: id, headers, endStream: true }]);
    // The server acknowledged the section on its decoder stream (11).
    assert.ok(st.outbox.some((a) => a.kind === 'data' && a.streamId === 11));
    pump(ct, client, st, server);
    assert.equal(client.encoder.knownReceivedCount, client.encoder.table.insertCount);
    // A second request references the acknowledged entries: no new inserts, a short frame.
    const inserts = client.encoder.table.insertCount;
    assert.ok(inserts >= 2);
    const id2 = client.request(headers, { endStream: true });
    assert.equal(client.encoder.table.insertCount, inserts);
    assert.ok(!ct.outbox.some((a) => a.kind === 'data' && a.streamId === 6));
    assert.ok(ct.written(id2).length < 12, `HEADERS frame of ${ct.written(id2).length} octets`);
    pump(ct, client, st, server);
    assert.deepEqual(drain(server), [{ type: 'headers', streamId: id2, headers, endStream: true }]);
  });

  it('multiplexes concurrent requests, with a response that starts before its request ends', () => {
    const { ct, client, server, run } = pair({ useDynamicTable: false });
    run();
    drain(server);
    drain(client);
    const ids = [0, 1, 2].map(() => client.request(POST()));
    for (const id of ids) client.sendData(id, text.encode(`body-${id}`));
    run(5);
    server.respond(ids[1]!, 200, {}, { endStream: true }); // early response
    run();
    for (const id of [...ids].reverse()) client.sendData(id, text.encode('!'), true);
    run(3);
    const bodies = new Map<number, string>();
    for (const e of drain(server)) {
      if (e.type === 'data')
        bodies.set(e.streamId, (bodies.get(e.streamId) ?? '') + Buffer.from(e.data).toString());
    }
    assert.deepEqual(
      [...bodies.entries()].sort(),
      ids.map((id) => [id, `body-${id}!`]),
    );
    const ev = drain(client);
    assert.deepEqual(
      ev.map((e) => e.type === 'headers' && [e.streamId, e.endStream]),
      [[ids[1], true]],
    );
    // Without the dynamic table the encoder stream carries only its type octet.
    assert.deepEqual([...ct.written(6)], [0x02]);
  });

  it('ignores unknown frame types, unknown settings and unknown stream types', () => {
    const { t, h } = lone('server');
    h.handleStreamData(
      2,
      control(encodeFrame(0x21, new Uint8Array(5)), encodeFrame(0x1234, new Uint8Array(300))),
      false,
    );
    h.handleStreamData(2, encodeSettingsFrame([[0x4242, 7]]).subarray(0, 0), false);
    // GREASE uni stream type 0x21 + 0x1f: reading is aborted with H3_STREAM_CREATION_ERROR.
    h.handleStreamData(14, cat([0x40, 0x40], [1, 2, 3]), false);
    assert.deepEqual(t.stops, [[14, E.H3_STREAM_CREATION_ERROR]]);
    h.handleStreamData(14, new Uint8Array([9]), true);
    // A uni stream closed before its type is tolerated.
    h.handleStreamData(18, new Uint8Array(0), true);
    // Unknown frames interleaved on a request stream.
    h.handleStreamData(
      0,
      cat(
        encodeFrame(0x21, new Uint8Array(3)),
        headersFrame(POST(2)),
        encodeFrame(0x5f, text.encode('zz')),
        dataFrame('hi'),
        encodeFrame(0x40, new Uint8Array(0)),
      ),
      true,
    );
    const ev = drain(h);
    assert.equal(t.closed, undefined);
    assert.deepEqual(
      ev.map((e) => e.type),
      ['settings', 'headers', 'data'],
    );
    assert.equal((ev[2] as { endStream: boolean }).endStream, true);
    // Unknown settings are ignored but listed.
    const { h: h2 } = lone('client');
    h2.handleStreamData(
      3,
      cat(
        [0x00],
        encodeSettingsFrame([
          [0x4242, 7],
          [0x21, 1],
        ]),
      ),
      false,
    );
    const s = drain(h2)[0]!;
    assert.ok(s.type === 'settings');
    assert.deepEqual(s.settings.parameters, [
      [0x4242, 7],
      [0x21, 1],
    ]);
  });

  it('resets and stop-sending reach the application', () => {
    const { ct, st, client, server, run } = pair();
    run();
    drain(server);
    drain(client);
    const id = client.request(POST());
    client.sendData(id, text.encode('part'));
    run();
    drain(server);
    client.cancel(id);
    assert.deepEqual(ct.resets, [[id, E.H3_REQUEST_CANCELLED]]);
    assert.deepEqual(ct.stops, [[id, E.H3_REQUEST_CANCELLED]]);
    run();
    const ev = drain(server);
    assert.deepEqual(ev, [
      { type: 'stop-sending', streamId: id, errorCode: E.H3_REQUEST_CANCELLED },
      { type: 'reset', streamId: id, errorCode: E.H3_REQUEST_CANCELLED, local: false },
    ]);
    // The server's send side was reset in response to STOP_SENDING.
    assert.deepEqual(st.resets, [[id, E.H3_REQUEST_CANCELLED]]);
    assert.throws(() => server.respond(id, 200), /unknown request stream/);
    assert.equal(server.sendData(id, new Uint8Array(1)), false);
    assert.equal(client.closed || server.closed, false);
  });
});

describe('H3Connection: GOAWAY', () => {
  it('server GOAWAY stops new requests and rejects later streams', () => {
    const { st, client, server, run } = pair();
    run();
    client.request(GET, { endStream: true });
    run();
    drain(client);
    drain(server);
    server.goaway();
    run();
    assert.deepEqual(drain(client), [{ type: 'goaway', id: 4 }]);
    // RFC 9114 §5.2: no new requests after GOAWAY.
    assert.throws(() => client.request(GET), /GOAWAY/);
    // A request at or above the identifier is rejected by the server.
    server.handleStreamData(4, headersFrame(GET), true);
    assert.deepEqual(st.resets, [[4, E.H3_REQUEST_REJECTED]]);
    assert.deepEqual(drain(server), []);
    // The identifier never increases.
    server.goaway(100);
    run();
    assert.deepEqual(drain(client), [{ type: 'goaway', id: 4 }]);
    // The open request can still be answered.
    server.respond(0, 204, {}, { endStream: true });
    run();
    assert.equal(drain(client)[0]!.type, 'headers');
  });

  it('client GOAWAY carries a push ID; decreasing and equal identifiers are fine', () => {
    const { client, server, run } = pair();
    run();
    drain(server);
    client.goaway();
    client.goaway();
    run();
    assert.deepEqual(drain(server), [
      { type: 'goaway', id: 0 },
      { type: 'goaway', id: 0 },
    ]);
    assert.equal(server.closed, false);
  });

  it('server GOAWAY before any request uses 0', () => {
    const { client, server, run } = pair();
    run();
    drain(client);
    server.goaway();
    run();
    assert.deepEqual(drain(client), [{ type: 'goaway', id: 0 }]);
  });
});

describe('H3Connection: connection errors (RFC 9114 §6, §7, §8; RFC 9204 §4)', () => {
  type Case = [why: string, role: 'client' | 'server', code: number, feed: (h: H3Connection) => void];
  const peerUni = (role: 'client' | 'server', n: number) => (role === 'server' ? 2 : 3) + 4 * n;
  const cases: Case[] = [
    [
      'second control stream',
      'server',
      E.H3_STREAM_CREATION_ERROR,
      (h) => {
        h.handleStreamData(2, control(), false);
        h.handleStreamData(6, new Uint8Array([0x00]), false);
      },
    ],
    [
      'first control frame is not SETTINGS',
      'server',
      E.H3_MISSING_SETTINGS,
      (h) => h.handleStreamData(2, cat([0x00], encodeIdFrame(FrameType.GOAWAY, 0)), false),
    ],
    [
      'first control frame is an unknown type',
      'client',
      E.H3_MISSING_SETTINGS,
      (h) => h.handleStreamData(3, cat([0x00], encodeFrame(0x21, new Uint8Array(1))), false),
    ],
    [
      'second SETTINGS frame',
      'server',
      E.H3_FRAME_UNEXPECTED,
      (h) => h.handleStreamData(2, control(SETTINGS), false),
    ],
    [
      'control stream closed (FIN)',
      'server',
      E.H3_CLOSED_CRITICAL_STREAM,
      (h) => h.handleStreamData(2, control(), true),
    ],
    [
      'control stream reset',
      'client',
      E.H3_CLOSED_CRITICAL_STREAM,
      (h) => {
        h.handleStreamData(3, control(), false);
        h.handleStreamReset(3, 0x100);
      },
    ],
    [
      'STOP_SENDING on our control stream',
      'server',
      E.H3_CLOSED_CRITICAL_STREAM,
      (h) => h.handleStopSending(3, 0x100),
    ],
    [
      'STOP_SENDING on our QPACK decoder stream',
      'client',
      E.H3_CLOSED_CRITICAL_STREAM,
      (h) => h.handleStopSending(10, 0x100),
    ],
    [
      'QPACK encoder stream closed',
      'server',
      E.H3_CLOSED_CRITICAL_STREAM,
      (h) => h.handleStreamData(6, new Uint8Array([0x02]), true),
    ],
    [
      'QPACK decoder stream reset',
      'server',
      E.H3_CLOSED_CRITICAL_STREAM,
      (h) => {
        h.handleStreamData(6, new Uint8Array([0x03]), false);
        h.handleStreamReset(6, 0);
      },
    ],
    [
      'second QPACK encoder stream',
      'client',
      E.H3_STREAM_CREATION_ERROR,
      (h) => {
        h.handleStreamData(3, new Uint8Array([0x02]), false);
        h.handleStreamData(7, new Uint8Array([0x02]), false);
      },
    ],
    [
      'second QPACK decoder stream',
      'server',
      E.H3_STREAM_CREATION_ERROR,
      (h) => {
        h.handleStreamData(2, new Uint8Array([0x03]), false);
        h.handleStreamData(6, new Uint8Array([0x03]), false);
      },
    ],
    [
      'DATA on the control stream',
      'server',
      E.H3_FRAME_UNEXPECTED,
      (h) => h.handleStreamData(2, control(dataFrame('x')), false),
    ],
    [
      'HEADERS on the control stream',
      'client',
      E.H3_FRAME_UNEXPECTED,
      (h) => h.handleStreamData(3, control(headersFrame(OK)), false),
    ],
    [
      'PUSH_PROMISE on the control stream',
      'client',
      E.H3_FRAME_UNEXPECTED,
      (h) =>
        h.handleStreamData(3, control(encodeFrame(FrameType.PUSH_PROMISE, new Uint8Array([0, 0, 0]))), false),
    ],
    ...[0x02, 0x06, 0x08, 0x09].map(
      (t): Case => [
        `HTTP/2 frame type 0x0${t} on the control stream`,
        'server',
        E.H3_FRAME_UNEXPECTED,
        (h) => h.handleStreamData(2, control(encodeFrame(t, new Uint8Array(4))), false),
      ],
    ),
    ...[0x02, 0x06, 0x08, 0x09].map(
      (t): Case => [
        `HTTP/2 frame type 0x0${t} on a request stream`,
        'server',
        E.H3_FRAME_UNEXPECTED,
        (h) => h.handleStreamData(0, encodeFrame(t, new Uint8Array(4)), false),
      ],
    ),
    [
      'MAX_PUSH_ID received by a client',
      'client',
      E.H3_FRAME_UNEXPECTED,
      (h) => h.handleStreamData(3, control(encodeIdFrame(FrameType.MAX_PUSH_ID, 4)), false),
    ],
    [
      'MAX_PUSH_ID decreasing',
      'server',
      E.H3_ID_ERROR,
      (h) =>
        h.handleStreamData(
          2,
          control(encodeIdFrame(FrameType.MAX_PUSH_ID, 4), encodeIdFrame(FrameType.MAX_PUSH_ID, 3)),
          false,
        ),
    ],
    [
      'CANCEL_PUSH for a push never promised (server)',
      'server',
      E.H3_ID_ERROR,
      (h) => h.handleStreamData(2, control(encodeIdFrame(FrameType.CANCEL_PUSH, 0)), false),
    ],
    [
      'CANCEL_PUSH above our (absent) MAX_PUSH_ID (client)',
      'client',
      E.H3_ID_ERROR,
      (h) => h.handleStreamData(3, control(encodeIdFrame(FrameType.CANCEL_PUSH, 0)), false),
    ],
    [
      'DATA before HEADERS',
      'server',
      E.H3_FRAME_UNEXPECTED,
      (h) => h.handleStreamData(0, dataFrame('x'), false),
    ],
    [
      'HEADERS after trailers',
      'server',
      E.H3_FRAME_UNEXPECTED,
      (h) =>
        h.handleStreamData(
          0,
          cat(headersFrame(POST()), headersFrame([['x-t', '1']]), headersFrame([['x-t', '2']])),
          false,
        ),
    ],
    [
      'DATA after trailers',
      'client',
      E.H3_FRAME_UNEXPECTED,
      (h) => {
        const id = h.request(GET, { endStream: true });
        h.handleStreamData(id, cat(headersFrame(OK), headersFrame([['x-t', '1']]), dataFrame('late')), false);
      },
    ],
    ...[FrameType.SETTINGS, FrameType.GOAWAY, FrameType.MAX_PUSH_ID, FrameType.CANCEL_PUSH].map(
      (t): Case => [
        `control frame 0x${t.toString(16)} on a request stream`,
        'server',
        E.H3_FRAME_UNEXPECTED,
        (h) => h.handleStreamData(0, cat(headersFrame(GET), encodeIdFrame(t, 0)), false),
      ],
    ),
    [
      'PUSH_PROMISE received by a server',
      'server',
      E.H3_FRAME_UNEXPECTED,
      (h) =>
        h.handleStreamData(
          0,
          cat(headersFrame(GET), encodeFrame(FrameType.PUSH_PROMISE, new Uint8Array([0, 0, 0]))),
          false,
        ),
    ],
    [
      'PUSH_PROMISE without MAX_PUSH_ID',
      'client',
      E.H3_ID_ERROR,
      (h) => {
        const id = h.request(GET, { endStream: true });
        h.handleStreamData(
          id,
          encodeFrame(FrameType.PUSH_PROMISE, cat([0], new QpackEncoder().encodeFieldSection(0, GET))),
          false,
        );
      },
    ],
    [
      'push stream from a client',
      'server',
      E.H3_STREAM_CREATION_ERROR,
      (h) => h.handleStreamData(2, new Uint8Array([0x01, 0x00]), false),
    ],
    [
      'push stream without MAX_PUSH_ID',
      'client',
      E.H3_ID_ERROR,
      (h) => h.handleStreamData(3, new Uint8Array([0x01, 0x00]), false),
    ],
    [
      'server-initiated bidirectional stream',
      'client',
      E.H3_STREAM_CREATION_ERROR,
      (h) => h.handleStreamData(1, headersFrame(OK), false),
    ],
    [
      'duplicate setting',
      'server',
      E.H3_SETTINGS_ERROR,
      (h) =>
        h.handleStreamData(
          2,
          cat(
            [0x00],
            encodeSettingsFrame([
              [0x06, 1],
              [0x06, 1],
            ]),
          ),
          false,
        ),
    ],
    ...[0x02, 0x03, 0x04, 0x05].map(
      (id): Case => [
        `HTTP/2 setting 0x0${id}`,
        'client',
        E.H3_SETTINGS_ERROR,
        (h) => h.handleStreamData(3, cat([0x00], encodeSettingsFrame([[id, 0]])), false),
      ],
    ),
    [
      'truncated SETTINGS payload',
      'server',
      E.H3_FRAME_ERROR,
      (h) => h.handleStreamData(2, cat([0x00, FrameType.SETTINGS, 1, 0x06]), false),
    ],
    [
      'GOAWAY with extra octets',
      'client',
      E.H3_FRAME_ERROR,
      (h) => h.handleStreamData(3, control(cat([FrameType.GOAWAY, 2, 0, 0])), false),
    ],
    [
      'empty GOAWAY',
      'client',
      E.H3_FRAME_ERROR,
      (h) => h.handleStreamData(3, control(cat([FrameType.GOAWAY, 0])), false),
    ],
    [
      'request stream ends inside a frame',
      'server',
      E.H3_FRAME_ERROR,
      (h) => h.handleStreamData(0, cat(headersFrame(POST()), [FrameType.DATA, 10, 1, 2]), true),
    ],
    [
      'request stream ends inside a frame header',
      'server',
      E.H3_FRAME_ERROR,
      (h) => h.handleStreamData(0, cat(headersFrame(POST()), [0x40]), true),
    ],
    [
      'GOAWAY with a non-request stream ID',
      'client',
      E.H3_ID_ERROR,
      (h) => h.handleStreamData(3, control(encodeIdFrame(FrameType.GOAWAY, 2)), false),
    ],
    [
      'GOAWAY identifier increased',
      'client',
      E.H3_ID_ERROR,
      (h) =>
        h.handleStreamData(
          3,
          control(encodeIdFrame(FrameType.GOAWAY, 8), encodeIdFrame(FrameType.GOAWAY, 12)),
          false,
        ),
    ],
    [
      'client GOAWAY push ID increased',
      'server',
      E.H3_ID_ERROR,
      (h) =>
        h.handleStreamData(
          2,
          control(encodeIdFrame(FrameType.GOAWAY, 1), encodeIdFrame(FrameType.GOAWAY, 2)),
          false,
        ),
    ],
    [
      'oversized control frame',
      'server',
      E.H3_EXCESSIVE_LOAD,
      (h) => h.handleStreamData(2, control(encodeFrame(FrameType.GOAWAY, new Uint8Array(20000))), false),
    ],
    [
      'invalid field section (static index 99)',
      'server',
      E.QPACK_DECOMPRESSION_FAILED,
      (h) => h.handleStreamData(0, encodeFrame(FrameType.HEADERS, new Uint8Array([0, 0, 0xff, 0x24])), false),
    ],
    [
      'Required Insert Count encoding above 2 * MaxEntries',
      'server',
      E.QPACK_DECOMPRESSION_FAILED,
      (h) =>
        h.handleStreamData(
          0,
          encodeFrame(FrameType.HEADERS, new Uint8Array([0xff, 0x02, 0x00, 0x80])),
          false,
        ),
    ],
    [
      'encoder stream: capacity above our maximum',
      'server',
      E.QPACK_ENCODER_STREAM_ERROR,
      (h) => h.handleStreamData(2, new Uint8Array([0x02, 0x3f, 0xe2, 0x1f]), false),
    ],
    [
      'decoder stream: Insert Count Increment of zero',
      'client',
      E.QPACK_DECODER_STREAM_ERROR,
      (h) => h.handleStreamData(3, new Uint8Array([0x03, 0x00]), false),
    ],
    [
      'decoder stream: acknowledgment of an unknown section',
      'server',
      E.QPACK_DECODER_STREAM_ERROR,
      (h) => h.handleStreamData(2, new Uint8Array([0x03, 0x80]), false),
    ],
  ];
  for (const [why, role, code, feed] of cases) {
    it(`${why} → 0x${code.toString(16)}`, () => {
      const { t, h } = lone(role);
      feed(h);
      closedWith(h, t, code, why);
      // Nothing more happens after the close.
      h.handleStreamData(peerUni(role, 5), new Uint8Array([0x00]), true);
      assert.equal(h.poll(), undefined);
    });
  }
});

describe('H3Connection: stream errors (RFC 9114 §4.1.2)', () => {
  const malformed: [string, FieldLine[], Uint8Array?][] = [
    ['uppercase field name', [...GET, ['X-Upper', '1']]],
    ['missing :path', GET.filter(([n]) => n !== ':path')],
    ['missing :method', GET.filter(([n]) => n !== ':method')],
    ['missing :scheme', GET.filter(([n]) => n !== ':scheme')],
    ['missing :authority and host', GET.filter(([n]) => n !== ':authority')],
    ['empty :path', GET.map(([n, v]) => [n, n === ':path' ? '' : v] as FieldLine)],
    ['duplicate :method', [[':method', 'GET'], ...GET]],
    ['undefined pseudo-header', [...GET.slice(0, 2), [':protocol', 'x'], ...GET.slice(2)]],
    ['response pseudo-header in a request', [[':status', '200'], ...GET]],
    ['pseudo-header after a regular field', [...GET.slice(0, 3), ['accept', '*/*'], GET[3]!]],
    ['connection-specific field', [...GET, ['connection', 'keep-alive']]],
    ['transfer-encoding', [...GET, ['transfer-encoding', 'chunked']]],
    ['TE other than trailers', [...GET, ['te', 'gzip']]],
    ['CR in a value', [...GET, ['x-a', 'b\rc']]],
    [':authority and host differ', [...GET, ['host', 'other.example']]],
    [
      'userinfo in :authority',
      GET.map(([n, v]) => [n, n === ':authority' ? 'user@example.org' : v] as FieldLine),
    ],
    [
      'CONNECT with :path',
      [
        [':method', 'CONNECT'],
        [':authority', 'example.org:443'],
        [':path', '/'],
      ],
    ],
    ['content-length larger than the content', POST(10), dataFrame('short')],
    ['content-length smaller than the content', POST(2), dataFrame('longer')],
    [
      'invalid content-length',
      POST(1).map(([n, v]) => [n, n === 'content-length' ? '1x' : v] as FieldLine),
      dataFrame('1'),
    ],
    ['trailers with a pseudo-header', POST(), headersFrame([[':path', '/']])],
  ];
  for (const [why, lines, rest] of malformed) {
    it(`${why} → H3_MESSAGE_ERROR on the stream only`, () => {
      const { t, h } = lone('server');
      h.handleStreamData(0, cat(headersFrame(lines), rest ?? new Uint8Array(0)), true);
      assert.equal(t.closed, undefined);
      const ev = drain(h);
      assert.deepEqual(
        ev.at(-1),
        { type: 'reset', streamId: 0, errorCode: E.H3_MESSAGE_ERROR, local: true },
        why,
      );
      assert.deepEqual(t.resets, [[0, E.H3_MESSAGE_ERROR]]);
      // Further data on the aborted stream is ignored; other streams still work.
      h.handleStreamData(0, dataFrame('more'), false);
      h.handleStreamData(4, headersFrame(GET), true);
      assert.deepEqual(
        drain(h).map((e) => e.type),
        ['headers'],
      );
    });
  }

  it('a request stream that ends before its headers → H3_REQUEST_INCOMPLETE', () => {
    const { t, h } = lone('server');
    h.handleStreamData(0, new Uint8Array(0), true);
    assert.deepEqual(drain(h), [
      { type: 'reset', streamId: 0, errorCode: E.H3_REQUEST_INCOMPLETE, local: true },
    ]);
    assert.deepEqual(t.resets, [[0, E.H3_REQUEST_INCOMPLETE]]);
    assert.equal(t.closed, undefined);
  });

  const badResponses: [string, FieldLine[], Uint8Array?][] = [
    ['missing :status', [['content-type', 'text/plain']]],
    ['101 status', [[':status', '101']]],
    ['non-numeric status', [[':status', '2xx']]],
    [
      'request pseudo-header in a response',
      [
        [':status', '200'],
        [':path', '/'],
      ],
    ],
    [
      'TE in a response',
      [
        [':status', '200'],
        ['te', 'trailers'],
      ],
    ],
    [
      'content-length mismatch',
      [
        [':status', '200'],
        ['content-length', '3'],
      ],
      dataFrame('four'),
    ],
  ];
  for (const [why, lines, rest] of badResponses) {
    it(`client: ${why} → H3_MESSAGE_ERROR`, () => {
      const { t, h } = lone('client');
      const id = h.request(GET, { endStream: true });
      h.handleStreamData(id, cat(headersFrame(lines), rest ?? new Uint8Array(0)), true);
      assert.equal(t.closed, undefined);
      assert.deepEqual(drain(h).at(-1), {
        type: 'reset',
        streamId: id,
        errorCode: E.H3_MESSAGE_ERROR,
        local: true,
      });
      assert.deepEqual(t.stops, []); // the stream had ended (FIN received)
    });
  }

  it('a field section above SETTINGS_MAX_FIELD_SECTION_SIZE → stream error H3_EXCESSIVE_LOAD', () => {
    const { t, h } = lone('server', { maxFieldSectionSize: 200 });
    h.handleStreamData(0, headersFrame([...GET, ['x-big', 'x'.repeat(200)]]), false);
    assert.deepEqual(drain(h), [{ type: 'reset', streamId: 0, errorCode: E.H3_EXCESSIVE_LOAD, local: true }]);
    assert.deepEqual(t.stops, [[0, E.H3_EXCESSIVE_LOAD]]);
    assert.equal(t.closed, undefined);
  });

  it('refuses to send what the API caller got wrong', () => {
    const { client, server, run } = pair({}, { maxFieldSectionSize: 300 });
    assert.throws(() => client.request([[':method', 'GET']]), TypeError);
    assert.throws(() => client.request([...GET, ['connection', 'close']]), TypeError);
    run();
    assert.throws(() => client.request([...GET, ['x-big', 'x'.repeat(400)]]), RangeError);
    assert.throws(() => server.respond(0, 200), /unknown request stream/);
    assert.throws(() => server.request(GET), /clients/);
    const id = client.request(GET, { endStream: true });
    assert.throws(() => client.sendData(id, new Uint8Array(1)), /finished/);
    run();
    assert.throws(() => server.sendData(id, new Uint8Array(1)), /headers first/);
    assert.throws(() => server.respond(id, 103, {}, { endStream: true }), TypeError);
    assert.throws(() => server.sendTrailers(id, [[':status', '200']]), /headers first/);
    server.respond(id, 200);
    assert.throws(() => server.sendTrailers(id, [[':status', '200']]), TypeError);
    client.close();
    assert.throws(() => client.request(GET), /closed/);
    assert.deepEqual(drain(client).at(-1), {
      type: 'closed',
      errorCode: E.H3_NO_ERROR,
      reason: '',
      remote: false,
    });
  });

  it('reports a transport close once', () => {
    const { h } = lone('client');
    h.handleConnectionClose(0x10c, 'bye');
    h.handleConnectionClose(0x10c, 'bye');
    assert.deepEqual(drain(h), [{ type: 'closed', errorCode: 0x10c, reason: 'bye', remote: true }]);
  });
});
