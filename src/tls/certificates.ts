// Certificate handling: PEM parsing and chain verification with node:crypto X509Certificate
// (RFC 8446 §4.4.2.4, RFC 9001 §4.4). Failures throw CRYPTO_ERROR alerts:
// unknown_ca (48) no path to a trust anchor, bad_certificate (42) bad signature, wrong host name or
// undecodable certificate, certificate_expired (45) outside the validity period,
// unsupported_certificate (43) wrong extended key usage.
import { createPrivateKey, type KeyObject, X509Certificate } from 'node:crypto';
import { rootCertificates } from 'node:tls';
import { ipToBytes } from '../common/addr.js';
import { cryptoError } from '../common/errors.js';
import { Alert } from './constants.js';

const PEM_CERT = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/** Every certificate in a PEM text (or texts), in order. */
export function parsePemCertificates(pem: string | readonly string[]): X509Certificate[] {
  const texts = typeof pem === 'string' ? [pem] : pem;
  const out: X509Certificate[] = [];
  for (const t of texts) for (const m of t.match(PEM_CERT) ?? []) out.push(new X509Certificate(m));
  return out;
}

export function toPrivateKey(key: string | KeyObject): KeyObject {
  return typeof key === 'string' ? createPrivateKey(key) : key;
}

let defaultRoots: X509Certificate[] | undefined;

/** Node's bundled root store (tls.rootCertificates), parsed once. */
export function defaultTrustAnchors(): X509Certificate[] {
  defaultRoots ??= parsePemCertificates(rootCertificates);
  return defaultRoots;
}

/** Decodes DER certificates from a Certificate message; bad_certificate if one is malformed. */
export function decodeCertificates(ders: readonly Uint8Array[]): X509Certificate[] {
  return ders.map((d) => {
    try {
      return new X509Certificate(d);
    } catch {
      throw cryptoError(Alert.BadCertificate, 'malformed certificate');
    }
  });
}

export const SERVER_AUTH_OID = '1.3.6.1.5.5.7.3.1';
export const CLIENT_AUTH_OID = '1.3.6.1.5.5.7.3.2';
const ANY_EKU_OID = '2.5.29.37.0';
const MAX_CHAIN_DEPTH = 8;

export interface ChainVerifyOptions {
  readonly trustAnchors: readonly X509Certificate[];
  /** Wall-clock time, unix milliseconds. */
  readonly now: number;
  /** Expected DNS name or IP literal of the peer (servers only); undefined skips the check. */
  readonly host?: string | undefined;
  /** Extended key usage the leaf must allow (when it has the extension). */
  readonly purpose: typeof SERVER_AUTH_OID | typeof CLIENT_AUTH_OID;
}

function checkValidity(cert: X509Certificate, now: number): void {
  const from = Date.parse(cert.validFrom);
  const to = Date.parse(cert.validTo);
  if (!(now >= from && now <= to)) {
    throw cryptoError(Alert.CertificateExpired, `certificate ${cert.subject} is not valid at this time`);
  }
}

function sameCert(a: X509Certificate, b: X509Certificate): boolean {
  return a.raw.equals(b.raw);
}

function issuedBy(cert: X509Certificate, issuer: X509Certificate): boolean | 'bad-signature' {
  if (!cert.checkIssued(issuer)) return false;
  let ok = false;
  try {
    ok = cert.verify(issuer.publicKey);
  } catch {
    ok = false;
  }
  return ok ? true : 'bad-signature';
}

/**
 * Verifies `chain` (leaf first, then untrusted intermediates in any order) up to one of the trust
 * anchors: signatures, validity periods, CA flag of issuers, host name or IP, key usage.
 */
export function verifyCertificateChain(chain: readonly X509Certificate[], opts: ChainVerifyOptions): void {
  const leaf = chain[0];
  if (!leaf) throw cryptoError(Alert.DecodeError, 'empty certificate chain');
  checkValidity(leaf, opts.now);

  const eku = leaf.keyUsage;
  if (eku && eku.length > 0 && !eku.includes(opts.purpose) && !eku.includes(ANY_EKU_OID)) {
    throw cryptoError(Alert.UnsupportedCertificate, 'certificate not valid for this purpose');
  }

  if (opts.host !== undefined) {
    const ok = ipToBytes(opts.host)
      ? leaf.checkIP(opts.host) !== undefined
      : leaf.checkHost(opts.host) !== undefined;
    // No dedicated alert for a name mismatch: bad_certificate (42).
    if (!ok) throw cryptoError(Alert.BadCertificate, `certificate is not valid for ${opts.host}`);
  }

  let current = leaf;
  const used = new Set<X509Certificate>([leaf]);
  for (let depth = 0; depth <= MAX_CHAIN_DEPTH; depth++) {
    // A certificate that is itself a trust anchor ends the path (RFC 8446 §4.2.3, RFC 5280 §6.1).
    if (opts.trustAnchors.some((a) => sameCert(a, current))) return;
    let badSignature = false;
    for (const anchor of opts.trustAnchors) {
      const r = issuedBy(current, anchor);
      if (r === true) {
        if (!anchor.ca) throw cryptoError(Alert.BadCertificate, 'issuer is not a CA');
        checkValidity(anchor, opts.now);
        return;
      }
      if (r === 'bad-signature') badSignature = true;
    }
    let next: X509Certificate | undefined;
    for (const cand of chain) {
      if (used.has(cand)) continue;
      const r = issuedBy(current, cand);
      if (r === true) {
        next = cand;
        break;
      }
      if (r === 'bad-signature') badSignature = true;
    }
    if (!next) {
      if (badSignature) throw cryptoError(Alert.BadCertificate, 'certificate signature does not verify');
      throw cryptoError(Alert.UnknownCa, 'certificate chain does not lead to a trusted CA');
    }
    if (!next.ca) throw cryptoError(Alert.BadCertificate, 'intermediate is not a CA');
    checkValidity(next, opts.now);
    used.add(next);
    current = next;
  }
  throw cryptoError(Alert.UnknownCa, 'certificate chain too long');
}
