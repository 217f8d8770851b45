// The relay envelope between feather-quic processes (src/node/envelope.ts).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SeededRandom } from '../../../src/common/random.js';
import {
  decodeEnvelope,
  encodeEnvelope,
  MAX_ENVELOPE_HEADER,
  writeEnvelopeHeader,
} from '../../../src/node/envelope.js';
import { generateInput } from '../../support/property.js';

const payload = new Uint8Array([0x40, 1, 2, 3, 4, 5]);

test('round trips IPv4, IPv6 (RFC 5952 text) and IPv4-mapped addresses with ports', () => {
  const cases: [string, string][] = [
    ['192.0.2.1', '127.0.0.1'],
    ['255.255.255.255', '0.0.0.0'],
    ['2001:db8::1', '::1'],
    ['fe80::1:2:3:4', '2001:db8:0:1:1:1:1:1'],
    ['::', '1::'],
    ['2001:db8:85a3::8a2e:370:7334', '::ffff:192.0.2.7'],
    ['1:0:0:2:0:0:0:3', '127.0.0.1'],
  ];
  for (const [peer, local] of cases) {
    const e = encodeEnvelope({ address: peer, port: 65535 }, { address: local, port: 443 }, payload);
    const d = decodeEnvelope(e);
    assert.ok(d, `${peer} / ${local}`);
    assert.equal(d.peer.port, 65535);
    assert.equal(d.local.port, 443);
    assert.deepEqual(d.payload, payload);
    // The decoded text is canonical: encoding it again gives the same octets.
    assert.deepEqual(encodeEnvelope(d.peer, d.local, d.payload), e);
  }
  assert.equal(
    decodeEnvelope(
      encodeEnvelope({ address: '1:0:0:2:0:0:0:3', port: 1 }, { address: '::1', port: 2 }, payload),
    )!.peer.address,
    '1:0:0:2::3',
  );
  assert.equal(
    decodeEnvelope(
      encodeEnvelope({ address: '::ffff:10.1.2.3', port: 1 }, { address: '::1', port: 2 }, payload),
    )!.peer.address,
    '::ffff:10.1.2.3',
  );
  assert.equal(
    decodeEnvelope(encodeEnvelope({ address: '2001:DB8::A', port: 1 }, { address: '::1', port: 2 }, payload))!
      .peer.address,
    '2001:db8::a',
  );
});

test('header sizes and encoding errors', () => {
  const out = new Uint8Array(MAX_ENVELOPE_HEADER);
  assert.equal(
    writeEnvelopeHeader(out, { address: '10.0.0.1', port: 1 }, { address: '10.0.0.2', port: 2 }),
    16,
  );
  assert.equal(
    writeEnvelopeHeader(out, { address: '::1', port: 1 }, { address: '::2', port: 2 }),
    MAX_ENVELOPE_HEADER,
  );
  assert.throws(
    () => encodeEnvelope({ address: 'localhost', port: 1 }, { address: '::1', port: 1 }, payload),
    RangeError,
  );
  assert.throws(
    () => encodeEnvelope({ address: '::1', port: 70000 }, { address: '::1', port: 1 }, payload),
    RangeError,
  );
  assert.throws(
    () => writeEnvelopeHeader(new Uint8Array(10), { address: '::1', port: 1 }, { address: '::1', port: 1 }),
    RangeError,
  );
});

test('malformed envelopes decode to undefined: bad magic, version, lengths, truncation', () => {
  const good = encodeEnvelope({ address: '10.0.0.1', port: 1 }, { address: '10.0.0.2', port: 2 }, payload);
  assert.ok(decodeEnvelope(good));
  for (const [i, v] of [
    [0, 0],
    [1, 0],
    [2, 2],
    [3, 0x31],
    [3, 0x10],
    [3, 0x13],
  ] as const) {
    const bad = good.slice();
    bad[i] = v;
    assert.equal(decodeEnvelope(bad), undefined, `octet ${i} = ${v}`);
  }
  for (let n = 0; n < 16; n++)
    assert.equal(decodeEnvelope(good.subarray(0, n)), undefined, `truncated to ${n}`);
  assert.deepEqual(decodeEnvelope(good.subarray(0, 16))!.payload, new Uint8Array(0));
});

test('100k random and mutated inputs never throw; what decodes re-encodes to the same header', () => {
  const rng = new SeededRandom(0xe7e1);
  const corpus = [
    encodeEnvelope({ address: '10.0.0.1', port: 1 }, { address: '10.0.0.2', port: 2 }, payload),
    encodeEnvelope({ address: '2001:db8::1', port: 443 }, { address: '::ffff:127.0.0.1', port: 2 }, payload),
  ];
  let decoded = 0;
  for (let i = 0; i < 100_000; i++) {
    const input = generateInput(rng, corpus, 80);
    const d = decodeEnvelope(input);
    if (!d) continue;
    decoded++;
    const again = encodeEnvelope(d.peer, d.local, d.payload);
    assert.deepEqual(decodeEnvelope(again), d);
  }
  assert.ok(decoded > 1000, `${decoded} decoded`);
});
