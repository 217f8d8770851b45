// TLS 1.3 code points (RFC 8446 §4, §4.2, §6, Appendix B) used by the QUIC handshake.
import type { CipherSuite } from '../protection/cipher-suites.js';

/** RFC 8446 §4 HandshakeType. */
export const HandshakeType = {
  ClientHello: 1,
  ServerHello: 2,
  NewSessionTicket: 4,
  EndOfEarlyData: 5,
  EncryptedExtensions: 8,
  Certificate: 11,
  CertificateRequest: 13,
  CertificateVerify: 15,
  Finished: 20,
  KeyUpdate: 24,
  MessageHash: 254,
} as const;
export type HandshakeType = (typeof HandshakeType)[keyof typeof HandshakeType];

/** RFC 8446 §4.2 ExtensionType (+ RFC 9001 §8.2 quic_transport_parameters). */
export const ExtensionType = {
  ServerName: 0,
  SupportedGroups: 10,
  SignatureAlgorithms: 13,
  Alpn: 16,
  Padding: 21,
  PreSharedKey: 41,
  EarlyData: 42,
  SupportedVersions: 43,
  Cookie: 44,
  PskKeyExchangeModes: 45,
  CertificateAuthorities: 47,
  PostHandshakeAuth: 49,
  SignatureAlgorithmsCert: 50,
  KeyShare: 51,
  QuicTransportParameters: 0x39,
} as const;

/** RFC 8446 §6 / Appendix B.2 AlertDescription. */
export const Alert = {
  CloseNotify: 0,
  UnexpectedMessage: 10,
  BadRecordMac: 20,
  HandshakeFailure: 40,
  BadCertificate: 42,
  UnsupportedCertificate: 43,
  CertificateRevoked: 44,
  CertificateExpired: 45,
  CertificateUnknown: 46,
  IllegalParameter: 47,
  UnknownCa: 48,
  AccessDenied: 49,
  DecodeError: 50,
  DecryptError: 51,
  ProtocolVersion: 70,
  InsufficientSecurity: 71,
  InternalError: 80,
  MissingExtension: 109,
  UnsupportedExtension: 110,
  UnrecognizedName: 112,
  UnknownPskIdentity: 115,
  CertificateRequired: 116,
  NoApplicationProtocol: 120,
} as const;

export const TLS13 = 0x0304;
export const LEGACY_VERSION = 0x0303;

/** RFC 8446 §4.1.3: ServerHello.random of a HelloRetryRequest, SHA-256("HelloRetryRequest"). */
export const HRR_RANDOM = new Uint8Array([
  0xcf, 0x21, 0xad, 0x74, 0xe5, 0x9a, 0x61, 0x11, 0xbe, 0x1d, 0x8c, 0x02, 0x1e, 0x65, 0xb8, 0x91, 0xc2, 0xa2,
  0x11, 0x16, 0x7a, 0xbb, 0x8c, 0x5e, 0x07, 0x9e, 0x09, 0xe2, 0xc8, 0xa8, 0x33, 0x9c,
]);

/** RFC 8446 §4.2.9 PskKeyExchangeMode. */
export const PskMode = { psk_ke: 0, psk_dhe_ke: 1 } as const;

/** RFC 9001 §4.6.1: the only max_early_data_size QUIC allows. */
export const QUIC_MAX_EARLY_DATA = 0xffffffff;

// ---- Cipher suites (RFC 8446 §B.4): the table of src/protection/cipher-suites.ts ----

export { CIPHER_SUITES, type CipherSuite, type CipherSuiteInfo } from '../protection/cipher-suites.js';

export const DEFAULT_CIPHER_SUITES: readonly CipherSuite[] = [0x1301, 0x1302, 0x1303];

export function isCipherSuite(v: number): v is CipherSuite {
  return v === 0x1301 || v === 0x1302 || v === 0x1303;
}

// ---- Groups (RFC 8446 §4.2.7) ----

export type GroupName = 'x25519' | 'secp256r1';
export const NamedGroup: Readonly<Record<GroupName, number>> = { x25519: 0x001d, secp256r1: 0x0017 };

export function groupName(code: number): GroupName | undefined {
  return code === 0x001d ? 'x25519' : code === 0x0017 ? 'secp256r1' : undefined;
}

export const DEFAULT_GROUPS: readonly GroupName[] = ['x25519', 'secp256r1'];

// ---- Signature schemes (RFC 8446 §4.2.3) ----

export const SignatureScheme = {
  ecdsa_secp256r1_sha256: 0x0403,
  ecdsa_secp384r1_sha384: 0x0503,
  rsa_pss_rsae_sha256: 0x0804,
  rsa_pss_rsae_sha384: 0x0805,
  rsa_pss_rsae_sha512: 0x0806,
  ed25519: 0x0807,
  rsa_pss_pss_sha256: 0x0809,
  rsa_pss_pss_sha384: 0x080a,
  rsa_pss_pss_sha512: 0x080b,
  // Certificate-only schemes (RFC 8446 §4.2.3), advertised for chains, never for CertificateVerify.
  rsa_pkcs1_sha256: 0x0401,
  rsa_pkcs1_sha384: 0x0501,
  rsa_pkcs1_sha512: 0x0601,
} as const;

/** Schemes usable in CertificateVerify, in our order of preference. */
export const VERIFY_SCHEMES: readonly number[] = [
  SignatureScheme.ecdsa_secp256r1_sha256,
  SignatureScheme.ed25519,
  SignatureScheme.ecdsa_secp384r1_sha384,
  SignatureScheme.rsa_pss_rsae_sha256,
  SignatureScheme.rsa_pss_rsae_sha384,
  SignatureScheme.rsa_pss_rsae_sha512,
  SignatureScheme.rsa_pss_pss_sha256,
  SignatureScheme.rsa_pss_pss_sha384,
  SignatureScheme.rsa_pss_pss_sha512,
];

/** What we send in signature_algorithms: the CertificateVerify schemes plus PKCS#1 for chains. */
export function advertisedSchemes(verify: readonly number[]): number[] {
  const out = verify.filter((s) => VERIFY_SCHEMES.includes(s));
  if (out.length === 0) throw new TypeError('no supported signature scheme');
  return [
    ...out,
    SignatureScheme.rsa_pkcs1_sha256,
    SignatureScheme.rsa_pkcs1_sha384,
    SignatureScheme.rsa_pkcs1_sha512,
  ];
}
