// Key schedule (RFC 8446 §7.1), transcript (§4.4.1) and message decoding against the TLS 1.3
// example traces in /work/shared/specs/tls13-traces-draft-vectors-NOT-rfc8448-values.txt.
// NOTE: these are the draft-ietf-tls-tls13-vectors editor's-copy values, NOT RFC 8448's
// (same handshakes, different keys and randoms; see trace-vectors.ts).
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { describe, test } from 'node:test';
import { fromHex, hex } from '../../../src/common/bytes.js';
import { hkdfExpandLabel } from '../../../src/protection/hkdf.js';
import { ExtensionType, HandshakeType } from '../../../src/tls/constants.js';
import { keyShareFromPrivate } from '../../../src/tls/key-exchange.js';
import {
  binderKey,
  deriveSecret,
  earlySecret,
  emptyHash,
  finishedVerifyData,
  handshakeSecret,
  hashOf,
  masterSecret,
  messageHash,
  resumptionPsk,
  Transcript,
} from '../../../src/tls/key-schedule.js';
import {
  decodeAlpn,
  decodeCertificate,
  decodeCertificateVerify,
  decodeClientHello,
  decodeClientKeyShares,
  decodeEncryptedExtensions,
  decodeNewSessionTicket,
  decodeOfferedPsks,
  decodeServerHello,
  decodeServerKeyShare,
  decodeServerName,
} from '../../../src/tls/messages.js';
import { certificateVerifyContent, verifyContent } from '../../../src/tls/signature.js';
import { hrr, resumed, rtt1 } from './trace-vectors.js';

const h = fromHex;
const body = (m: string): Uint8Array => h(m).subarray(4);

function transcript(...msgs: string[]): Transcript {
  const t = new Transcript();
  t.setHash('sha256');
  for (const m of msgs) t.add(h(m));
  return t;
}

describe('key schedule: simple 1-RTT trace (draft vectors, not RFC 8448)', () => {
  const v = rtt1;

  test('HKDF-Expand-Label: derived secret, traffic key and iv', () => {
    assert.equal(
      hex(emptyHash('sha256')),
      'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
    );
    assert.equal(
      hex(hkdfExpandLabel('sha256', h(v.earlySecret), 'derived', emptyHash('sha256'), 32)),
      v.derivedForHandshake,
    );
    assert.equal(
      hex(hkdfExpandLabel('sha256', h(v.serverHandshakeTraffic), 'key', new Uint8Array(0), 16)),
      v.serverHandshakeKey,
    );
    assert.equal(
      hex(hkdfExpandLabel('sha256', h(v.serverHandshakeTraffic), 'iv', new Uint8Array(0), 12)),
      v.serverHandshakeIv,
    );
    assert.equal(
      hex(hkdfExpandLabel('sha256', h(v.clientApplicationTraffic), 'key', new Uint8Array(0), 16)),
      v.clientApplicationKey,
    );
    assert.equal(
      hex(hkdfExpandLabel('sha256', h(v.clientApplicationTraffic), 'iv', new Uint8Array(0), 12)),
      v.clientApplicationIv,
    );
    assert.equal(
      hex(hkdfExpandLabel('sha256', h(v.serverHandshakeTraffic), 'finished', new Uint8Array(0), 32)),
      v.serverFinishedKey,
    );
  });

  test('X25519 key shares and shared secret', () => {
    const c = keyShareFromPrivate('x25519', h(v.clientPrivate));
    const s = keyShareFromPrivate('x25519', h(v.serverPrivate));
    assert.equal(hex(c.publicKey), v.clientPublic);
    assert.equal(hex(s.publicKey), v.serverPublic);
    assert.equal(hex(c.computeSecret(h(v.serverPublic))), v.sharedSecret);
    assert.equal(hex(s.computeSecret(h(v.clientPublic))), v.sharedSecret);
  });

  test('early, handshake and master secrets; handshake traffic secrets', () => {
    const early = earlySecret('sha256', undefined);
    assert.equal(hex(early), v.earlySecret);
    const hs = handshakeSecret('sha256', early, h(v.sharedSecret));
    assert.equal(hex(hs), v.handshakeSecret);
    const th = transcript(v.clientHello, v.serverHello).digest();
    assert.equal(hex(th), v.transcriptHello);
    assert.equal(hex(deriveSecret('sha256', hs, 'c hs traffic', th)), v.clientHandshakeTraffic);
    assert.equal(hex(deriveSecret('sha256', hs, 's hs traffic', th)), v.serverHandshakeTraffic);
    assert.equal(hex(masterSecret('sha256', hs)), v.masterSecret);
  });

  test('server CertificateVerify verifies; Finished values; application secrets', () => {
    const t = transcript(v.clientHello, v.serverHello, v.encryptedExtensions, v.certificate);
    const cert = decodeCertificate(body(v.certificate));
    assert.equal(cert.entries.length, 1);
    const x509 = new X509Certificate(cert.entries[0]!.data);
    assert.match(x509.subject, /CN=rsa/);
    const cv = decodeCertificateVerify(body(v.certificateVerify));
    assert.equal(cv.scheme, 0x0804);
    const content = certificateVerifyContent(true, t.digest());
    assert.equal(verifyContent(cv.scheme, x509.publicKey, content, cv.signature), true);
    assert.equal(
      verifyContent(cv.scheme, x509.publicKey, certificateVerifyContent(false, t.digest()), cv.signature),
      false,
    );
    t.add(h(v.certificateVerify));
    assert.equal(
      hex(finishedVerifyData('sha256', h(v.serverHandshakeTraffic), t.digest())),
      hex(body(v.serverFinished)),
    );
    t.add(h(v.serverFinished));
    const th = t.digest();
    assert.equal(hex(th), v.transcriptServerFinished);
    const master = h(v.masterSecret);
    assert.equal(hex(deriveSecret('sha256', master, 'c ap traffic', th)), v.clientApplicationTraffic);
    assert.equal(hex(deriveSecret('sha256', master, 's ap traffic', th)), v.serverApplicationTraffic);
    assert.equal(hex(deriveSecret('sha256', master, 'exp master', th)), v.exporterMaster);
    assert.equal(
      hex(finishedVerifyData('sha256', h(v.clientHandshakeTraffic), th)),
      hex(body(v.clientFinished)),
    );
    t.add(h(v.clientFinished));
    assert.equal(hex(t.digest()), v.transcriptClientFinished);
    const res = deriveSecret('sha256', master, 'res master', t.digest());
    assert.equal(hex(res), v.resumptionMaster);
    const nst = decodeNewSessionTicket(body(v.newSessionTicket));
    assert.equal(nst.lifetime, 30);
    assert.equal(hex(nst.nonce), '0000');
    assert.equal(hex(resumptionPsk('sha256', res, nst.nonce)), v.resumptionPsk);
  });

  test('decodes the trace ClientHello, ServerHello and EncryptedExtensions', () => {
    const ch = decodeClientHello(body(v.clientHello));
    assert.deepEqual(ch.cipherSuites, [0x1301, 0x1303, 0x1302]);
    assert.equal(ch.sessionId.length, 0);
    assert.equal(decodeServerName(ch.extensions.get(ExtensionType.ServerName)!), 'server');
    const shares = decodeClientKeyShares(ch.extensions.get(ExtensionType.KeyShare)!);
    assert.equal(shares.length, 1);
    assert.equal(shares[0]!.group, 0x001d);
    assert.equal(hex(shares[0]!.key), v.clientPublic);
    assert.equal(ch.truncatedLength, undefined);
    const sh = decodeServerHello(body(v.serverHello));
    assert.equal(sh.isHelloRetryRequest, false);
    assert.equal(sh.cipherSuite, 0x1301);
    assert.equal(hex(decodeServerKeyShare(sh.extensions.get(ExtensionType.KeyShare)!).key), v.serverPublic);
    const ee = decodeEncryptedExtensions(body(v.encryptedExtensions));
    assert.deepEqual(
      ee.items.map((e) => e.type),
      [ExtensionType.SupportedGroups, 0x1c, ExtensionType.ServerName],
    );
    assert.throws(() => decodeAlpn(new Uint8Array([0, 0])), { code: 0x132 });
  });
});

describe('key schedule: resumed 0-RTT trace (draft vectors, not RFC 8448)', () => {
  const v = resumed;

  test('early secret, PSK binder over Truncate(ClientHello)', () => {
    const early = earlySecret('sha256', h(v.psk));
    assert.equal(hex(early), v.earlySecret);
    const bk = binderKey('sha256', early);
    assert.equal(hex(bk), v.binderKey);
    const ch = decodeClientHello(body(v.clientHello));
    assert.equal(ch.truncatedLength, h(v.truncatedClientHello).length);
    const truncated = h(v.clientHello).subarray(0, ch.truncatedLength);
    assert.equal(hex(truncated), v.truncatedClientHello);
    assert.equal(hex(hashOf('sha256', truncated)), v.binderHash);
    assert.equal(hex(finishedVerifyData('sha256', bk, hashOf('sha256', truncated))), v.binder);
    const psks = decodeOfferedPsks(ch.extensions.get(ExtensionType.PreSharedKey)!);
    assert.equal(psks.identities.length, 1);
    assert.equal(hex(psks.binders[0]!), v.binder);
    assert.equal(ch.extensions.last, ExtensionType.PreSharedKey);
    assert.equal(ch.extensions.has(ExtensionType.EarlyData), true);
  });

  test('client early traffic secret and early exporter', () => {
    const early = h(v.earlySecret);
    const th = hashOf('sha256', h(v.clientHello));
    assert.equal(hex(deriveSecret('sha256', early, 'c e traffic', th)), v.clientEarlyTraffic);
    assert.equal(hex(deriveSecret('sha256', early, 'e exp master', th)), v.earlyExporterMaster);
  });

  test('handshake with PSK and (EC)DHE through the resumption master secret', () => {
    const c = keyShareFromPrivate('x25519', h(v.clientPrivate));
    const shared = c.computeSecret(h(v.serverPublic));
    assert.equal(hex(shared), v.sharedSecret);
    const sh = decodeServerHello(body(v.serverHello));
    assert.equal(sh.extensions.has(ExtensionType.PreSharedKey), true);
    const hs = handshakeSecret('sha256', h(v.earlySecret), shared);
    assert.equal(hex(hs), v.handshakeSecret);
    const t = transcript(v.clientHello, v.serverHello);
    assert.equal(hex(deriveSecret('sha256', hs, 'c hs traffic', t.digest())), v.clientHandshakeTraffic);
    assert.equal(hex(deriveSecret('sha256', hs, 's hs traffic', t.digest())), v.serverHandshakeTraffic);
    const master = masterSecret('sha256', hs);
    assert.equal(hex(master), v.masterSecret);
    const ee = decodeEncryptedExtensions(body(v.encryptedExtensions));
    assert.equal(ee.has(ExtensionType.EarlyData), true);
    t.add(h(v.encryptedExtensions));
    assert.equal(
      hex(finishedVerifyData('sha256', h(v.serverHandshakeTraffic), t.digest())),
      hex(body(v.serverFinished)),
    );
    t.add(h(v.serverFinished));
    assert.equal(hex(deriveSecret('sha256', master, 'c ap traffic', t.digest())), v.clientApplicationTraffic);
    assert.equal(hex(deriveSecret('sha256', master, 's ap traffic', t.digest())), v.serverApplicationTraffic);
    // TLS over TCP: EndOfEarlyData is in this transcript (QUIC omits it, RFC 9001 §8.3).
    assert.equal(h(v.endOfEarlyData)[0], HandshakeType.EndOfEarlyData);
    t.add(h(v.endOfEarlyData));
    assert.equal(
      hex(finishedVerifyData('sha256', h(v.clientHandshakeTraffic), t.digest())),
      hex(body(v.clientFinished)),
    );
    t.add(h(v.clientFinished));
    assert.equal(hex(deriveSecret('sha256', master, 'res master', t.digest())), v.resumptionMaster);
  });
});

describe('key schedule: HelloRetryRequest trace (draft vectors, not RFC 8448)', () => {
  const v = hrr;

  test('HelloRetryRequest decodes as such, with key_share and cookie', () => {
    const m = decodeServerHello(body(v.helloRetryRequest));
    assert.equal(m.isHelloRetryRequest, true);
    assert.deepEqual(Array.from(m.extensions.get(ExtensionType.KeyShare)!), [0x00, 0x17]);
    assert.equal(m.extensions.has(ExtensionType.Cookie), true);
    const ch2 = decodeClientHello(body(v.clientHello2));
    assert.deepEqual(
      Array.from(ch2.extensions.get(ExtensionType.Cookie)!),
      Array.from(m.extensions.get(ExtensionType.Cookie)!),
    );
    assert.equal(decodeServerHello(body(v.serverHello)).isHelloRetryRequest, false);
  });

  test('P-256 key share and shared secret', () => {
    const c = keyShareFromPrivate('secp256r1', h(v.clientP256Private));
    assert.equal(hex(c.publicKey), v.clientP256Public);
    assert.equal(hex(c.computeSecret(h(v.serverP256Public))), v.sharedSecret);
  });

  test('synthetic message_hash transcript through the client Finished', () => {
    const mh = messageHash('sha256', h(v.clientHello1));
    assert.equal(mh[0], HandshakeType.MessageHash);
    assert.deepEqual(Array.from(mh.subarray(1, 4)), [0, 0, 32]);
    const t = new Transcript();
    t.setHash('sha256');
    t.add(mh);
    for (const m of [v.helloRetryRequest, v.clientHello2, v.serverHello]) t.add(h(m));
    const hs = handshakeSecret('sha256', earlySecret('sha256', undefined), h(v.sharedSecret));
    assert.equal(hex(hs), v.handshakeSecret);
    assert.equal(hex(deriveSecret('sha256', hs, 'c hs traffic', t.digest())), v.clientHandshakeTraffic);
    assert.equal(hex(deriveSecret('sha256', hs, 's hs traffic', t.digest())), v.serverHandshakeTraffic);
    const master = masterSecret('sha256', hs);
    assert.equal(hex(master), v.masterSecret);
    for (const m of [v.encryptedExtensions, v.certificate, v.certificateVerify]) t.add(h(m));
    assert.equal(
      hex(finishedVerifyData('sha256', h(v.serverHandshakeTraffic), t.digest())),
      hex(body(v.serverFinished)),
    );
    t.add(h(v.serverFinished));
    assert.equal(hex(deriveSecret('sha256', master, 'c ap traffic', t.digest())), v.clientApplicationTraffic);
    assert.equal(hex(deriveSecret('sha256', master, 's ap traffic', t.digest())), v.serverApplicationTraffic);
    assert.equal(
      hex(finishedVerifyData('sha256', h(v.clientHandshakeTraffic), t.digest())),
      hex(body(v.clientFinished)),
    );
  });

  test('transcript buffers messages until the hash is chosen', () => {
    const t = new Transcript();
    t.add(h(v.clientHello1));
    assert.equal(t.messages.length, 1);
    t.setHash('sha256');
    assert.equal(hex(t.digest()), hex(hashOf('sha256', h(v.clientHello1))));
    assert.equal(
      hex(t.digestWith(h(v.helloRetryRequest))),
      hex(hashOf('sha256', h(v.clientHello1), h(v.helloRetryRequest))),
    );
  });
});
