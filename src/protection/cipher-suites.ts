// TLS 1.3 cipher suites usable with QUIC (RFC 9001 §5.3) and their parameters: AEAD (RFC 8446
// §B.4), header protection (RFC 9001 §5.4.3/§5.4.4) and AEAD usage limits (RFC 9001 §6.6).
import type { HashName } from './hkdf.js';

export const CipherSuite = {
  TLS_AES_128_GCM_SHA256: 0x1301,
  TLS_AES_256_GCM_SHA384: 0x1302,
  TLS_CHACHA20_POLY1305_SHA256: 0x1303,
} as const;
/** TLS_AES_128_CCM_8_SHA256 has no header protection scheme (RFC 9001 §5.3), CCM is not offered. */
export type CipherSuite = (typeof CipherSuite)[keyof typeof CipherSuite];

export type AeadAlgorithm = 'aes-128-gcm' | 'aes-256-gcm' | 'chacha20-poly1305';
export type HeaderProtectionAlgorithm = 'aes-128-ecb' | 'aes-256-ecb' | 'chacha20';

export interface CipherSuiteInfo {
  readonly code: CipherSuite;
  readonly name: keyof typeof CipherSuite;
  readonly hash: HashName;
  readonly hashLength: 32 | 48;
  readonly aead: AeadAlgorithm;
  /** Length of "quic key". */
  readonly keyLength: 16 | 32;
  /** Length of "quic iv": the AEAD nonce length (RFC 9001 §5.1). */
  readonly ivLength: 12;
  /** RFC 9001 §5.3: every suite usable with QUIC has a 16-octet tag. */
  readonly tagLength: 16;
  readonly hp: HeaderProtectionAlgorithm;
  /** Length of "quic hp". */
  readonly hpKeyLength: 16 | 32;
  /** Header protection sample length (RFC 9001 §5.4.2). */
  readonly sampleLength: 16;
  /** Packets that may be sealed under one key (RFC 9001 §6.6); Infinity = no limit. */
  readonly confidentialityLimit: number;
  /** Packets that may fail authentication over a connection's lifetime (RFC 9001 §6.6). */
  readonly integrityLimit: number;
}

export const CIPHER_SUITES: Readonly<Record<CipherSuite, CipherSuiteInfo>> = {
  4865: {
    code: 0x1301,
    name: 'TLS_AES_128_GCM_SHA256',
    hash: 'sha256',
    hashLength: 32,
    aead: 'aes-128-gcm',
    keyLength: 16,
    ivLength: 12,
    tagLength: 16,
    hp: 'aes-128-ecb',
    hpKeyLength: 16,
    sampleLength: 16,
    confidentialityLimit: 2 ** 23, // RFC 9001 §6.6
    integrityLimit: 2 ** 52, // RFC 9001 §6.6
  },
  4866: {
    code: 0x1302,
    name: 'TLS_AES_256_GCM_SHA384',
    hash: 'sha384',
    hashLength: 48,
    aead: 'aes-256-gcm',
    keyLength: 32,
    ivLength: 12,
    tagLength: 16,
    hp: 'aes-256-ecb',
    hpKeyLength: 32,
    sampleLength: 16,
    confidentialityLimit: 2 ** 23, // RFC 9001 §6.6
    integrityLimit: 2 ** 52, // RFC 9001 §6.6
  },
  4867: {
    code: 0x1303,
    name: 'TLS_CHACHA20_POLY1305_SHA256',
    hash: 'sha256',
    hashLength: 32,
    aead: 'chacha20-poly1305',
    keyLength: 32,
    ivLength: 12,
    tagLength: 16,
    hp: 'chacha20',
    hpKeyLength: 32,
    sampleLength: 16,
    // RFC 9001 §6.6: above the number of possible packets (2^62), so disregarded.
    confidentialityLimit: Number.POSITIVE_INFINITY,
    integrityLimit: 2 ** 36, // RFC 9001 §6.6
  },
};

export function isCipherSuite(code: number): code is CipherSuite {
  return code === 0x1301 || code === 0x1302 || code === 0x1303;
}

/** Parameters of a suite; RangeError for a code QUIC cannot use. */
export function cipherSuiteInfo(code: number): CipherSuiteInfo {
  if (!isCipherSuite(code))
    throw new RangeError(`cipher suite 0x${code.toString(16)} is not usable with QUIC`);
  return CIPHER_SUITES[code];
}
