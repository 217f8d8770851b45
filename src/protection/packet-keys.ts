// Packet protection keys from a traffic secret (RFC 9001 §5.1, RFC 8446 §7.3) and key update
// (RFC 9001 §6.1), with the QUIC v2 labels of RFC 9369 §3.3.2.

import { QUIC_V1, QUIC_V2 } from '../wire/versions.js';
import { PacketAead } from './aead.js';
import { type CipherSuite, cipherSuiteInfo } from './cipher-suites.js';
import { HeaderProtection } from './header-protection.js';
import { hkdfExpandLabel } from './hkdf.js';

export interface PacketKeys {
  readonly suite: CipherSuite;
  readonly aead: PacketAead;
  readonly hp: HeaderProtection;
  /** The traffic secret these keys come from (input of the next key update). */
  readonly secret: Uint8Array;
}

export interface PacketKeyMaterial {
  readonly key: Uint8Array;
  readonly iv: Uint8Array;
  readonly hp: Uint8Array;
}

interface Labels {
  readonly key: string;
  readonly iv: string;
  readonly hp: string;
  readonly ku: string;
}

const V1_LABELS: Labels = { key: 'quic key', iv: 'quic iv', hp: 'quic hp', ku: 'quic ku' }; // RFC 9001 §5.1, §6.1
const V2_LABELS: Labels = { key: 'quicv2 key', iv: 'quicv2 iv', hp: 'quicv2 hp', ku: 'quicv2 ku' }; // RFC 9369 §3.3.2
const EMPTY = new Uint8Array(0);

/** HKDF labels of a version; RangeError for versions this stack does not protect. */
export function protectionLabels(version: number): Labels {
  if (version === QUIC_V1) return V1_LABELS;
  if (version === QUIC_V2) return V2_LABELS;
  throw new RangeError(`unsupported QUIC version 0x${version.toString(16)}`);
}

/**
 * Raw key, IV and header protection key. RFC 9001 §5.1: HKDF-Expand-Label with the suite's
 * hash and a zero-length context; lengths from the AEAD and the header protection algorithm.
 */
export function derivePacketKeyMaterial(
  suite: CipherSuite,
  secret: Uint8Array,
  version: number,
): PacketKeyMaterial {
  const info = cipherSuiteInfo(suite);
  const labels = protectionLabels(version);
  return {
    key: hkdfExpandLabel(info.hash, secret, labels.key, EMPTY, info.keyLength),
    iv: hkdfExpandLabel(info.hash, secret, labels.iv, EMPTY, info.ivLength),
    hp: hkdfExpandLabel(info.hash, secret, labels.hp, EMPTY, info.hpKeyLength),
  };
}

/** Keys (AEAD and header protection objects, created once) for a traffic secret. */
export function derivePacketKeys(suite: CipherSuite, secret: Uint8Array, version: number): PacketKeys {
  const m = derivePacketKeyMaterial(suite, secret, version);
  return {
    suite,
    aead: new PacketAead(suite, m.key, m.iv),
    hp: new HeaderProtection(suite, m.hp),
    secret: secret.slice(),
  };
}

/** RFC 9001 §6.1: secret_<n+1> = HKDF-Expand-Label(secret_<n>, "quic ku", "", Hash.length). */
export function deriveNextSecret(suite: CipherSuite, secret: Uint8Array, version: number): Uint8Array {
  const info = cipherSuiteInfo(suite);
  return hkdfExpandLabel(info.hash, secret, protectionLabels(version).ku, EMPTY, info.hashLength);
}

/**
 * Keys of the next key phase: new AEAD key and IV from the updated secret, the same header
 * protection (RFC 9001 §6.1: "The header protection key is not updated").
 */
export function deriveNextPacketKeys(current: PacketKeys, version: number): PacketKeys {
  const secret = deriveNextSecret(current.suite, current.secret, version);
  const info = cipherSuiteInfo(current.suite);
  const labels = protectionLabels(version);
  const key = hkdfExpandLabel(info.hash, secret, labels.key, EMPTY, info.keyLength);
  const iv = hkdfExpandLabel(info.hash, secret, labels.iv, EMPTY, info.ivLength);
  return { suite: current.suite, aead: new PacketAead(current.suite, key, iv), hp: current.hp, secret };
}
