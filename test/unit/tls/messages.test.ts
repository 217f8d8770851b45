// Handshake message codec (RFC 8446 §4) and CRYPTO-stream reassembly.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { TransportError, TransportErrorCode } from '../../../src/common/errors.js';
import { ExtensionType, HandshakeType, HRR_RANDOM } from '../../../src/tls/constants.js';
import { HandshakeBuffer } from '../../../src/tls/handshake-buffer.js';
import {
  decodeAlpn,
  decodeCertificate,
  decodeCertificateRequest,
  decodeCertificateVerify,
  decodeClientHello,
  decodeClientKeyShares,
  decodeNewSessionTicket,
  decodeOfferedPsks,
  decodeServerHello,
  decodeServerName,
  decodeU16List,
  encodeAlpn,
  encodeCertificate,
  encodeCertificateRequest,
  encodeCertificateVerify,
  encodeClientHello,
  encodeClientKeyShares,
  encodeNewSessionTicket,
  encodeServerHello,
  encodeServerName,
  ext,
  handshakeMessage,
  patchBinders,
} from '../../../src/tls/messages.js';

const code = (alert: number) => (e: unknown) => e instanceof TransportError && e.code === 0x100 + alert;

describe('codec', () => {
  test('ClientHello round trip with a PSK; truncation length covers the binders list', () => {
    const random = new Uint8Array(32).fill(9);
    const { message, binderOffset } = encodeClientHello({
      random,
      cipherSuites: [0x1301, 0x1302],
      extensions: [
        ext.supportedVersionsClient([0x0304]),
        { type: ExtensionType.Alpn, data: encodeAlpn(['h3']) },
      ],
      psk: {
        identities: [{ identity: new Uint8Array([1, 2, 3]), obfuscatedAge: 0x01020304 }],
        binderLength: 32,
      },
    });
    patchBinders(message, binderOffset, [new Uint8Array(32).fill(0xee)]);
    assert.equal(message[0], HandshakeType.ClientHello);
    const ch = decodeClientHello(message.subarray(4));
    assert.deepEqual(ch.random, random);
    assert.deepEqual(ch.cipherSuites, [0x1301, 0x1302]);
    assert.equal(ch.sessionId.length, 0);
    assert.deepEqual(Array.from(ch.compressionMethods), [0]);
    assert.equal(ch.truncatedLength, binderOffset);
    assert.equal(message.length - binderOffset, 2 + 1 + 32);
    assert.deepEqual(decodeAlpn(ch.extensions.get(ExtensionType.Alpn)!), ['h3']);
    const psks = decodeOfferedPsks(ch.extensions.get(ExtensionType.PreSharedKey)!);
    assert.deepEqual(psks.identities, [{ identity: new Uint8Array([1, 2, 3]), obfuscatedAge: 0x01020304 }]);
    assert.deepEqual(psks.binders, [new Uint8Array(32).fill(0xee)]);
  });

  test('ServerHello / HelloRetryRequest round trip', () => {
    const sh = encodeServerHello({
      random: HRR_RANDOM,
      sessionIdEcho: new Uint8Array(0),
      cipherSuite: 0x1303,
      extensions: [ext.supportedVersionsServer(0x0304), ext.selectedGroup(0x17)],
    });
    const d = decodeServerHello(sh.subarray(4));
    assert.equal(d.isHelloRetryRequest, true);
    assert.equal(d.cipherSuite, 0x1303);
    assert.deepEqual(Array.from(d.extensions.get(ExtensionType.KeyShare)!), [0, 0x17]);
  });

  test('Certificate, CertificateRequest, CertificateVerify, NewSessionTicket round trips', () => {
    const c = decodeCertificate(
      encodeCertificate(new Uint8Array([5]), [new Uint8Array([1, 2]), new Uint8Array([3])]).subarray(4),
    );
    assert.deepEqual(Array.from(c.context), [5]);
    assert.deepEqual(
      c.entries.map((e) => Array.from(e.data)),
      [[1, 2], [3]],
    );
    const cr = decodeCertificateRequest(
      encodeCertificateRequest(new Uint8Array(0), [
        { type: 13, data: new Uint8Array([0, 2, 4, 3]) },
      ]).subarray(4),
    );
    assert.deepEqual(decodeU16List(cr.extensions.get(13)!, 2, 'sa'), [0x0403]);
    const cv = decodeCertificateVerify(
      encodeCertificateVerify(0x0807, new Uint8Array(64).fill(3)).subarray(4),
    );
    assert.equal(cv.scheme, 0x0807);
    assert.equal(cv.signature.length, 64);
    const nst = decodeNewSessionTicket(
      encodeNewSessionTicket(
        { lifetime: 7200, ageAdd: 0xfffffffe, nonce: new Uint8Array([0, 1]), ticket: new Uint8Array([7, 7]) },
        [ext.earlyDataMax(0xffffffff)],
      ).subarray(4),
    );
    assert.equal(nst.lifetime, 7200);
    assert.equal(nst.ageAdd, 0xfffffffe);
    assert.deepEqual(Array.from(nst.extensions.get(ExtensionType.EarlyData)!), [255, 255, 255, 255]);
  });

  test('extension bodies: ALPN, server_name, key shares', () => {
    assert.deepEqual(decodeAlpn(encodeAlpn(['h3', 'hq-interop'])), ['h3', 'hq-interop']);
    assert.equal(decodeServerName(encodeServerName('example.com')), 'example.com');
    const shares = [{ group: 0x1d, key: new Uint8Array(32).fill(1) }];
    assert.deepEqual(decodeClientKeyShares(encodeClientKeyShares(shares)), shares);
    assert.throws(() => encodeAlpn(['']), RangeError);
  });

  test('malformed input: decode_error or illegal_parameter, never anything else', () => {
    assert.throws(() => decodeAlpn(new Uint8Array([0, 2, 0, 0])), code(50)); // empty name
    assert.throws(() => decodeServerName(new Uint8Array([0, 4, 0, 0, 1, 0x0a])), code(47)); // control char
    assert.throws(() => decodeClientHello(new Uint8Array(10)), code(50));
    assert.throws(() => decodeServerHello(new Uint8Array(39)), code(50));
    assert.throws(() => decodeCertificate(new Uint8Array([0, 0, 0, 4, 0, 0, 0, 0])), code(50)); // empty cert_data
    assert.throws(() => decodeOfferedPsks(new Uint8Array([0, 7, 0, 1, 1, 0, 0, 0, 0, 0, 0])), code(47)); // no binders
    // Duplicate extension type in a block.
    const dup = new Uint8Array([0, 8, 0, 5, 0, 0, 0, 5, 0, 0]);
    assert.throws(() => decodeCertificateRequest(new Uint8Array([0, ...dup])), code(47));
    // Trailing data.
    assert.throws(() => decodeCertificateVerify(new Uint8Array([8, 7, 0, 1, 0, 9])), code(50));
  });

  test('handshakeMessage writes the uint24 length', () => {
    const m = handshakeMessage(20, new Uint8Array(0x010203));
    assert.deepEqual(Array.from(m.subarray(0, 4)), [20, 1, 2, 3]);
  });
});

describe('HandshakeBuffer', () => {
  const a = handshakeMessage(8, new Uint8Array([1, 2, 3]));
  const b = handshakeMessage(11, new Uint8Array(300).fill(4));

  test('split and coalesced messages come out whole and in order', () => {
    const buf = new HandshakeBuffer();
    const all = new Uint8Array([...a, ...b]);
    for (let i = 0; i < all.length; i += 5) buf.push(all.subarray(i, i + 5));
    const m1 = buf.next()!;
    assert.equal(m1.type, 8);
    assert.deepEqual(m1.body, new Uint8Array([1, 2, 3]));
    const m2 = buf.next()!;
    assert.equal(m2.type, 11);
    assert.equal(m2.body.length, 300);
    assert.equal(buf.next(), undefined);
    assert.equal(buf.pending, 0);
  });

  test('incomplete messages wait; copies do not alias the input', () => {
    const buf = new HandshakeBuffer();
    const input = a.slice();
    buf.push(input.subarray(0, 5));
    assert.equal(buf.next(), undefined);
    buf.push(input.subarray(5));
    const m = buf.next()!;
    input.fill(0);
    assert.deepEqual(Array.from(m.message), Array.from(a));
  });

  test('bounded: too much data or a huge announced length → CRYPTO_BUFFER_EXCEEDED', () => {
    const buf = new HandshakeBuffer(1000);
    assert.throws(() => buf.push(new Uint8Array(1001)), { code: TransportErrorCode.CRYPTO_BUFFER_EXCEEDED });
    const buf2 = new HandshakeBuffer(1000);
    buf2.push(new Uint8Array([11, 0, 4, 0]));
    assert.throws(() => buf2.next(), { code: TransportErrorCode.CRYPTO_BUFFER_EXCEEDED });
  });
});
