// CertificateVerify signatures (RFC 8446 §4.4.3) with the schemes of RFC 8446 §4.2.3.
import { constants, type KeyObject, sign, verify } from 'node:crypto';
import { SignatureScheme } from './constants.js';

interface SchemeInfo {
  readonly hash: 'sha256' | 'sha384' | 'sha512' | null;
  readonly pss: boolean;
}

const SCHEMES = new Map<number, SchemeInfo>([
  [SignatureScheme.ecdsa_secp256r1_sha256, { hash: 'sha256', pss: false }],
  [SignatureScheme.ecdsa_secp384r1_sha384, { hash: 'sha384', pss: false }],
  [SignatureScheme.rsa_pss_rsae_sha256, { hash: 'sha256', pss: true }],
  [SignatureScheme.rsa_pss_rsae_sha384, { hash: 'sha384', pss: true }],
  [SignatureScheme.rsa_pss_rsae_sha512, { hash: 'sha512', pss: true }],
  [SignatureScheme.rsa_pss_pss_sha256, { hash: 'sha256', pss: true }],
  [SignatureScheme.rsa_pss_pss_sha384, { hash: 'sha384', pss: true }],
  [SignatureScheme.rsa_pss_pss_sha512, { hash: 'sha512', pss: true }],
  [SignatureScheme.ed25519, { hash: null, pss: false }],
]);

/**
 * CertificateVerify schemes compatible with a (private or public) key, most preferred first.
 * RFC 8446 §4.2.3: ECDSA schemes fix the curve; rsae schemes need an rsaEncryption key, pss
 * schemes an RSASSA-PSS key; RFC 8446 §4.4.3: RSA signatures MUST use RSASSA-PSS.
 */
export function schemesForKey(key: KeyObject): number[] {
  const type = key.asymmetricKeyType;
  const details = key.asymmetricKeyDetails;
  switch (type) {
    case 'ec':
      if (details?.namedCurve === 'prime256v1') return [SignatureScheme.ecdsa_secp256r1_sha256];
      if (details?.namedCurve === 'secp384r1') return [SignatureScheme.ecdsa_secp384r1_sha384];
      return [];
    case 'ed25519':
      return [SignatureScheme.ed25519];
    case 'rsa':
      return [
        SignatureScheme.rsa_pss_rsae_sha256,
        SignatureScheme.rsa_pss_rsae_sha384,
        SignatureScheme.rsa_pss_rsae_sha512,
      ];
    case 'rsa-pss': {
      // A PSS key restricted to one hash (RFC 4055 parameters) only supports that scheme.
      const restricted = details?.hashAlgorithm;
      const all = [
        [SignatureScheme.rsa_pss_pss_sha256, 'sha256'],
        [SignatureScheme.rsa_pss_pss_sha384, 'sha384'],
        [SignatureScheme.rsa_pss_pss_sha512, 'sha512'],
      ] as const;
      return all.filter(([, h]) => restricted === undefined || restricted === h).map(([s]) => s);
    }
    default:
      return [];
  }
}

const SERVER_CONTEXT = 'TLS 1.3, server CertificateVerify';
const CLIENT_CONTEXT = 'TLS 1.3, client CertificateVerify';

/** RFC 8446 §4.4.3: 64 × 0x20, the context string, 0x00, then Transcript-Hash. */
export function certificateVerifyContent(server: boolean, transcriptHash: Uint8Array): Buffer {
  const ctx = server ? SERVER_CONTEXT : CLIENT_CONTEXT;
  const out = Buffer.alloc(64 + ctx.length + 1 + transcriptHash.length, 0x20);
  out.write(ctx, 64, 'latin1');
  out[64 + ctx.length] = 0;
  out.set(transcriptHash, 64 + ctx.length + 1);
  return out;
}

function options(key: KeyObject, info: SchemeInfo) {
  return info.pss
    ? { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: constants.RSA_PSS_SALTLEN_DIGEST }
    : { key, dsaEncoding: 'der' as const };
}

export function signContent(scheme: number, key: KeyObject, content: Uint8Array): Uint8Array {
  const info = SCHEMES.get(scheme);
  if (!info) throw new RangeError(`unsupported signature scheme 0x${scheme.toString(16)}`);
  return new Uint8Array(sign(info.hash, content, options(key, info)));
}

/** True if `signature` verifies; false for a bad signature or anything the primitive rejects. */
export function verifyContent(
  scheme: number,
  key: KeyObject,
  content: Uint8Array,
  signature: Uint8Array,
): boolean {
  const info = SCHEMES.get(scheme);
  if (!info) return false;
  try {
    return verify(info.hash, content, options(key, info), signature);
  } catch {
    return false;
  }
}
