// (EC)DHE key shares (RFC 8446 §4.2.8.2, §7.4.2): X25519 and secp256r1. Private keys come from
// the injected Random so that seeded runs are reproducible.
import { createECDH, createPrivateKey, createPublicKey, diffieHellman, type KeyObject } from 'node:crypto';
import type { Random } from '../common/random.js';
import { illegalParameter } from './alerts.js';
import { type GroupName, NamedGroup } from './constants.js';

// Fixed DER prefix of an X25519 PKCS#8 private key (RFC 8410), the slow-but-sure import path.
const X25519_PKCS8_PREFIX = Buffer.from('302e020100300506032b656e04220420', 'hex');

export interface KeyShare {
  readonly group: GroupName;
  readonly code: number;
  /** key_exchange octets to send. */
  readonly publicKey: Uint8Array;
  /** The shared secret with the peer's key_exchange; illegal_parameter if that is invalid. */
  computeSecret(peer: Uint8Array): Uint8Array;
}

const b64u = (b: Uint8Array): string =>
  Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('base64url');

// JWK import is ~8x faster than PKCS#8 DER import in OpenSSL 3. Node derives the public value
// from `d` (the `x` member is only syntax-checked); a one-time self-check with the RFC 7748 §6.1
// vector confirms it, else DER is used.
let jwkImportOk: boolean | undefined;
const RFC7748_PRIVATE = Buffer.from(
  '77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a',
  'hex',
);
const RFC7748_PUBLIC = '8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a';

function importX25519(raw: Uint8Array): KeyObject {
  if (jwkImportOk === undefined) {
    try {
      const probe = createPrivateKey({
        key: { kty: 'OKP', crv: 'X25519', d: b64u(RFC7748_PRIVATE), x: b64u(new Uint8Array(32)) },
        format: 'jwk',
      });
      const x = probe.export({ format: 'jwk' }).x;
      jwkImportOk = x !== undefined && Buffer.from(x, 'base64url').toString('hex') === RFC7748_PUBLIC;
    } catch {
      jwkImportOk = false;
    }
  }
  if (jwkImportOk) {
    return createPrivateKey({
      key: { kty: 'OKP', crv: 'X25519', d: b64u(raw), x: b64u(new Uint8Array(32)) },
      format: 'jwk',
    });
  }
  const der = Buffer.alloc(X25519_PKCS8_PREFIX.length + 32);
  der.set(X25519_PKCS8_PREFIX, 0);
  der.set(raw, X25519_PKCS8_PREFIX.length);
  return createPrivateKey({ key: der, format: 'der', type: 'pkcs8' });
}

/** An X25519 private key from 32 raw octets (clamped by the primitive). */
export function x25519PrivateKey(raw: Uint8Array): KeyObject {
  if (raw.length !== 32) throw new RangeError('X25519 private keys are 32 octets');
  return importX25519(raw);
}

function x25519Share(raw: Uint8Array): KeyShare {
  const privateKey = x25519PrivateKey(raw);
  const x = privateKey.export({ format: 'jwk' }).x;
  if (x === undefined) throw new Error('X25519 key export failed');
  const publicKey = new Uint8Array(Buffer.from(x, 'base64url'));
  return {
    group: 'x25519',
    code: NamedGroup.x25519,
    publicKey,
    computeSecret(peer) {
      // RFC 8446 §4.2.8.2: X25519 public values are 32 octets.
      if (peer.length !== 32) throw illegalParameter('X25519 key share must be 32 octets');
      try {
        const pub = createPublicKey({ key: { kty: 'OKP', crv: 'X25519', x: b64u(peer) }, format: 'jwk' });
        return new Uint8Array(diffieHellman({ privateKey, publicKey: pub }));
      } catch {
        // OpenSSL refuses an all-zero shared secret (low-order point, RFC 7748 §6.1).
        throw illegalParameter('invalid X25519 key share');
      }
    },
  };
}

function p256Share(raw: Uint8Array, random: Random): KeyShare {
  const ecdh = createECDH('prime256v1');
  // A random scalar is out of range with negligible probability; draw again if so.
  for (;;) {
    try {
      ecdh.setPrivateKey(raw);
      break;
    } catch {
      random.fill(raw);
    }
  }
  return {
    group: 'secp256r1',
    code: NamedGroup.secp256r1,
    publicKey: new Uint8Array(ecdh.getPublicKey()),
    computeSecret(peer) {
      // RFC 8446 §4.2.8.2: UncompressedPointRepresentation (0x04 || X || Y), validated on the curve.
      if (peer.length !== 65 || peer[0] !== 4)
        throw illegalParameter('secp256r1 key share must be uncompressed');
      try {
        return new Uint8Array(ecdh.computeSecret(peer));
      } catch {
        throw illegalParameter('invalid secp256r1 key share');
      }
    },
  };
}

/** A fresh key share for `group` (private key drawn from `random`). */
export function generateKeyShare(group: GroupName, random: Random): KeyShare {
  const raw = new Uint8Array(32);
  random.fill(raw);
  return keyShareFromPrivate(group, raw, random);
}

/** A key share from a given raw private key (test vectors). */
export function keyShareFromPrivate(group: GroupName, raw: Uint8Array, random?: Random): KeyShare {
  if (group === 'x25519') return x25519Share(raw);
  return p256Share(
    raw.slice(),
    random ?? {
      fill() {
        throw new RangeError('invalid secp256r1 private key');
      },
      next: () => 0,
    },
  );
}
