// Chain verification (RFC 8446 §4.4.2.4) and CertificateVerify signatures (RFC 8446 §4.4.3).
import assert from 'node:assert/strict';
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { describe, test } from 'node:test';
import { TransportError } from '../../../src/common/errors.js';
import {
  CLIENT_AUTH_OID,
  decodeCertificates,
  parsePemCertificates,
  SERVER_AUTH_OID,
  verifyCertificateChain,
} from '../../../src/tls/certificates.js';
import { SignatureScheme } from '../../../src/tls/constants.js';
import {
  certificateVerifyContent,
  schemesForKey,
  signContent,
  verifyContent,
} from '../../../src/tls/signature.js';
import { NOW, pem } from './tls-helpers.js';

const cert = (name: string): X509Certificate => new X509Certificate(pem(`${name}.pem`));
const ca = cert('ca');
const intermediate = cert('intermediate');

function alertOf(fn: () => void): number | undefined {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof TransportError, String(e));
    return e.code - 0x100;
  }
  return undefined;
}

const opts = { trustAnchors: [ca], now: NOW, host: 'localhost', purpose: SERVER_AUTH_OID } as const;

describe('verifyCertificateChain', () => {
  test('leaf + intermediate to the root', () => {
    assert.equal(
      alertOf(() => verifyCertificateChain([cert('leaf-p256'), intermediate], opts)),
      undefined,
    );
  });

  test('extraneous certificates and any order are tolerated (RFC 8446 §4.4.2)', () => {
    const chain = [cert('leaf-p384'), cert('unrelated-ca'), cert('leaf-rsa'), intermediate];
    assert.equal(
      alertOf(() => verifyCertificateChain(chain, opts)),
      undefined,
    );
  });

  test('an intermediate as trust anchor; a leaf that is itself an anchor', () => {
    assert.equal(
      alertOf(() => verifyCertificateChain([cert('leaf-p256')], { ...opts, trustAnchors: [intermediate] })),
      undefined,
    );
    const leaf = cert('leaf-ed25519');
    assert.equal(
      alertOf(() => verifyCertificateChain([leaf], { ...opts, trustAnchors: [leaf] })),
      undefined,
    );
  });

  test('missing intermediate, unrelated root → unknown_ca', () => {
    assert.equal(
      alertOf(() => verifyCertificateChain([cert('leaf-p256')], opts)),
      48,
    );
    assert.equal(
      alertOf(() => verifyCertificateChain([cert('leaf-unrelated'), intermediate], opts)),
      48,
    );
  });

  test('validity period of leaf and intermediate → certificate_expired', () => {
    assert.equal(
      alertOf(() => verifyCertificateChain([cert('leaf-expired'), intermediate], opts)),
      45,
    );
    assert.equal(
      alertOf(() =>
        verifyCertificateChain([cert('leaf-p256'), intermediate], { ...opts, now: Date.UTC(2024, 0, 1) }),
      ),
      45,
    );
    // Leaf-expired is fine during its validity; then the intermediate (valid from 2025) is not.
    assert.equal(
      alertOf(() =>
        verifyCertificateChain([cert('leaf-expired'), intermediate], { ...opts, now: Date.UTC(2020, 6, 1) }),
      ),
      45,
    );
  });

  test('host name and IP checks → bad_certificate', () => {
    const chain = [cert('leaf-p256'), intermediate];
    assert.equal(
      alertOf(() => verifyCertificateChain(chain, { ...opts, host: '::1' })),
      undefined,
    );
    assert.equal(
      alertOf(() => verifyCertificateChain(chain, { ...opts, host: '127.0.0.1' })),
      undefined,
    );
    assert.equal(
      alertOf(() => verifyCertificateChain(chain, { ...opts, host: '127.0.0.2' })),
      42,
    );
    assert.equal(
      alertOf(() => verifyCertificateChain(chain, { ...opts, host: 'other.example' })),
      42,
    );
    assert.equal(
      alertOf(() =>
        verifyCertificateChain([cert('leaf-other-host'), intermediate], { ...opts, host: 'other.example' }),
      ),
      undefined,
    );
  });

  test('extended key usage must match the purpose → unsupported_certificate', () => {
    const client = [cert('client'), intermediate];
    assert.equal(
      alertOf(() => verifyCertificateChain(client, { ...opts, host: undefined, purpose: CLIENT_AUTH_OID })),
      undefined,
    );
    assert.equal(
      alertOf(() => verifyCertificateChain(client, { ...opts, host: undefined })),
      43,
    );
  });

  test('a forged signature → bad_certificate; a non-CA issuer → bad_certificate', () => {
    const der = new Uint8Array(cert('leaf-p256').raw);
    der[der.length - 3]! ^= 0x01; // inside the ECDSA signature
    const [forged] = decodeCertificates([der]);
    assert.equal(
      alertOf(() => verifyCertificateChain([forged!, intermediate], opts)),
      42,
    );
    // The client certificate "issues" nothing, but trusting a non-CA leaf as the issuer of another
    // certificate must fail: use a self-issued check with a CA:FALSE anchor that signs nothing.
    assert.equal(
      alertOf(() => verifyCertificateChain([cert('leaf-p256')], { ...opts, trustAnchors: [cert('client')] })),
      48,
    );
  });

  test('undecodable DER → bad_certificate', () => {
    assert.equal(
      alertOf(() => decodeCertificates([new Uint8Array([0x30, 0x03, 0x02, 0x01, 0x00])])),
      42,
    );
  });

  test('PEM parsing keeps order', () => {
    const list = parsePemCertificates(pem('leaf-p256.pem') + pem('intermediate.pem'));
    assert.equal(list.length, 2);
    assert.match(list[1]!.subject, /intermediate/);
  });
});

describe('CertificateVerify signatures', () => {
  const cases: [string, number][] = [
    ['leaf-p256', SignatureScheme.ecdsa_secp256r1_sha256],
    ['leaf-p384', SignatureScheme.ecdsa_secp384r1_sha384],
    ['leaf-ed25519', SignatureScheme.ed25519],
    ['leaf-rsa', SignatureScheme.rsa_pss_rsae_sha256],
    ['leaf-rsa', SignatureScheme.rsa_pss_rsae_sha384],
    ['leaf-rsa', SignatureScheme.rsa_pss_rsae_sha512],
    ['leaf-rsa-pss', SignatureScheme.rsa_pss_pss_sha256],
    ['leaf-rsa-pss', SignatureScheme.rsa_pss_pss_sha384],
    ['leaf-rsa-pss', SignatureScheme.rsa_pss_pss_sha512],
  ];
  for (const [name, scheme] of cases) {
    test(`${name} scheme 0x${scheme.toString(16)}: sign, verify, reject tampering`, () => {
      const key = createPrivateKey(pem(`${name}.key`));
      const pub = cert(name).publicKey;
      assert.ok(schemesForKey(key).includes(scheme));
      assert.ok(schemesForKey(pub).includes(scheme));
      const content = certificateVerifyContent(true, new Uint8Array(32).fill(1));
      const sig = signContent(scheme, key, content);
      assert.equal(verifyContent(scheme, pub, content, sig), true);
      assert.equal(
        verifyContent(scheme, pub, certificateVerifyContent(false, new Uint8Array(32).fill(1)), sig),
        false,
      );
      const bad = sig.slice();
      bad[bad.length >> 1]! ^= 0x80;
      assert.equal(verifyContent(scheme, pub, content, bad), false);
      assert.equal(verifyContent(scheme, pub, content, new Uint8Array(3)), false);
    });
  }

  test('RFC 8446 §4.4.3 example content layout', () => {
    const c = certificateVerifyContent(true, new Uint8Array(32).fill(1));
    assert.equal(
      Buffer.from(c).toString('hex'),
      '20'.repeat(64) +
        '544c5320312e332c207365727665722043657274696669636174655665726966' +
        '79' +
        '00' +
        '01'.repeat(32),
    );
  });

  test('RSA keys never get PKCS#1 schemes; rsae and pss keys are distinct', () => {
    const rsa = schemesForKey(createPrivateKey(pem('leaf-rsa.key')));
    const pss = schemesForKey(createPrivateKey(pem('leaf-rsa-pss.key')));
    assert.deepEqual(rsa, [0x0804, 0x0805, 0x0806]);
    assert.deepEqual(pss, [0x0809, 0x080a, 0x080b]);
    assert.equal(
      verifyContent(0x0401, createPrivateKey(pem('leaf-rsa.key')), new Uint8Array(1), new Uint8Array(256)),
      false,
    );
  });
});
