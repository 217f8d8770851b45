// Certificate / CertificateVerify / Finished, shared by both roles (RFC 8446 §4.4).
import type { KeyObject, X509Certificate } from 'node:crypto';
import { constantTimeEqual } from '../common/bytes.js';
import { cryptoError } from '../common/errors.js';
import type { HashName } from '../protection/hkdf.js';
import { decodeError, decryptError, illegalParameter, unsupportedExtension } from './alerts.js';
import {
  type ChainVerifyOptions,
  decodeCertificates,
  parsePemCertificates,
  toPrivateKey,
  verifyCertificateChain,
} from './certificates.js';
import { Alert, HandshakeType } from './constants.js';
import { finishedVerifyData, type Transcript } from './key-schedule.js';
import {
  decodeCertificate,
  decodeCertificateVerify,
  decodeFinished,
  encodeCertificate,
  encodeCertificateVerify,
  handshakeMessage,
} from './messages.js';
import { certificateVerifyContent, schemesForKey, signContent, verifyContent } from './signature.js';

/** Our certificate chain and key, parsed once per configuration text. */
export interface Credentials {
  readonly chain: readonly X509Certificate[];
  readonly der: readonly Uint8Array[];
  readonly key: KeyObject;
  /** CertificateVerify schemes the key can produce, preferred first. */
  readonly schemes: readonly number[];
}

const credentialCache = new Map<string, Credentials>();
const anchorCache = new Map<string, X509Certificate[]>();
const CACHE_MAX = 32;

function remember<T>(cache: Map<string, T>, key: string, value: T): T {
  if (cache.size >= CACHE_MAX) cache.delete(cache.keys().next().value as string);
  cache.set(key, value);
  return value;
}

export function loadCredentials(chainPem: string, key: string | KeyObject): Credentials {
  const cacheKey = typeof key === 'string' ? `${chainPem}\n${key}` : undefined;
  const hit = cacheKey === undefined ? undefined : credentialCache.get(cacheKey);
  if (hit) return hit;
  const chain = parsePemCertificates(chainPem);
  if (chain.length === 0) throw new TypeError('certificateChain contains no certificate');
  const k = toPrivateKey(key);
  if (!chain[0]!.checkPrivateKey(k)) throw new TypeError('privateKey does not match the certificate');
  const creds: Credentials = {
    chain,
    der: chain.map((c) => new Uint8Array(c.raw)),
    key: k,
    schemes: schemesForKey(k),
  };
  return cacheKey === undefined ? creds : remember(credentialCache, cacheKey, creds);
}

export function loadTrustAnchors(pem: string | readonly string[]): X509Certificate[] {
  const cacheKey = typeof pem === 'string' ? pem : pem.join('\n');
  return anchorCache.get(cacheKey) ?? remember(anchorCache, cacheKey, parsePemCertificates(pem));
}

/** Builds Certificate (+ CertificateVerify when `creds`), adding them to the transcript. */
export function certificateFlight(
  server: boolean,
  context: Uint8Array,
  creds: Credentials | undefined,
  scheme: number | undefined,
  transcript: Transcript,
): Uint8Array[] {
  const cert = encodeCertificate(context, creds ? creds.der : []);
  transcript.add(cert);
  if (!creds || scheme === undefined) return [cert];
  const content = certificateVerifyContent(server, transcript.digest());
  const cv = encodeCertificateVerify(scheme, signContent(scheme, creds.key, content));
  transcript.add(cv);
  return [cert, cv];
}

/** Parses the peer's Certificate; returns its chain (possibly empty: the caller decides). */
export function readPeerCertificate(body: Uint8Array, expectedContext: Uint8Array): X509Certificate[] {
  const msg = decodeCertificate(body);
  // RFC 8446 §4.4.2: the context echoes the CertificateRequest's (empty for server auth).
  if (!constantTimeEqual(msg.context, expectedContext))
    throw illegalParameter('wrong certificate_request_context');
  for (const e of msg.entries) {
    // RFC 8446 §4.4.2: entry extensions must answer ours; we request none.
    if (e.extensions.items.length > 0) throw unsupportedExtension('unsolicited CertificateEntry extension');
  }
  return decodeCertificates(msg.entries.map((e) => e.data));
}

export function verifyPeerChain(chain: readonly X509Certificate[], opts: ChainVerifyOptions): void {
  if (chain.length === 0) throw decodeError('empty certificate chain');
  verifyCertificateChain(chain, opts);
}

/**
 * Checks the peer's CertificateVerify (RFC 8446 §4.4.3) against the transcript so far (which
 * ends with the peer's Certificate): the scheme must be one we offered and fit the key; a bad
 * signature is decrypt_error.
 */
export function checkCertificateVerify(
  body: Uint8Array,
  peerIsServer: boolean,
  leaf: X509Certificate,
  offered: readonly number[],
  transcript: Transcript,
): void {
  const cv = decodeCertificateVerify(body);
  if (!offered.includes(cv.scheme)) throw illegalParameter('signature scheme not offered');
  const key = leaf.publicKey;
  if (!schemesForKey(key).includes(cv.scheme))
    throw illegalParameter('signature scheme does not match the key');
  const content = certificateVerifyContent(peerIsServer, transcript.digest());
  if (!verifyContent(cv.scheme, key, content, cv.signature))
    throw decryptError('bad CertificateVerify signature');
}

/** Checks a Finished body against the transcript so far (RFC 8446 §4.4.4). */
export function checkFinished(
  body: Uint8Array,
  hash: HashName,
  baseKey: Uint8Array,
  transcript: Transcript,
): void {
  const expected = finishedVerifyData(hash, baseKey, transcript.digest());
  const got = decodeFinished(body, expected.length);
  if (!constantTimeEqual(got, expected)) throw decryptError('Finished does not verify');
}

export function finishedMessage(hash: HashName, baseKey: Uint8Array, transcript: Transcript): Uint8Array {
  return handshakeMessage(HandshakeType.Finished, finishedVerifyData(hash, baseKey, transcript.digest()));
}

/** certificate_required when a client certificate is mandatory (RFC 8446 §4.4.2.4). */
export const certificateRequired = (): ReturnType<typeof cryptoError> =>
  cryptoError(Alert.CertificateRequired, 'client certificate required');
