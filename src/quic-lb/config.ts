// QUIC-LB configuration (draft-ietf-quic-load-balancers §3, §5.3, Appendix A). Shared by the
// servers (CID generator) and the load balancer (router). Bad parameters are programmer errors:
// the constructor throws RangeError.
import { createSecretKey, type KeyObject } from 'node:crypto';
import { MAX_CID_LENGTH } from '../endpoint/cid-generator.js';

/** The config rotation codepoint reserved for unroutable CIDs (§3.1, §3.2). */
export const UNROUTABLE_CONFIG_ROTATION = 0b111;

export const QuicLbAlgorithm = {
  /** No key: the server ID is in the clear (§5.4). */
  Plaintext: 'plaintext',
  /** Key and sid + nonce = 16: one AES-ECB block (§5.4.1). */
  SinglePass: 'single-pass',
  /** Key and sid + nonce != 16: four-round Feistel network over AES-ECB (§5.4.2). */
  FourPass: 'four-pass',
} as const;
export type QuicLbAlgorithm = (typeof QuicLbAlgorithm)[keyof typeof QuicLbAlgorithm];

export interface QuicLbConfigOptions {
  /** Config rotation codepoint, 0..6 (§3.1: 0b111 is reserved). */
  readonly configRotation: number;
  /** Server ID length in octets, 1..15 (§5.3, Appendix A). */
  readonly serverIdLength: number;
  /** Nonce length in octets, 4..18 (§5.3, Appendix A). */
  readonly nonceLength: number;
  /** 16-octet AES-128 key; without one the server ID is sent in the clear. Bytes are copied. */
  readonly key?: KeyObject | Uint8Array;
  /** The first octet's low 5 bits carry the CID length minus one (§3.3). Default true. */
  readonly selfEncodeLength?: boolean;
  /** Extra random octets the server appends after the nonce (§5.4), same for every server. */
  readonly serverUseLength?: number;
}

export class QuicLbConfig {
  readonly configRotation: number;
  readonly serverIdLength: number;
  readonly nonceLength: number;
  /** AES-128 key as a KeyObject (created once), or undefined for plaintext CIDs. */
  readonly key: KeyObject | undefined;
  readonly selfEncodeLength: boolean;
  readonly serverUseLength: number;
  /** serverIdLength + nonceLength: the octets the load balancer decodes. */
  readonly plaintextLength: number;
  /** Length of every CID of this config: first octet, server ID, nonce, server-use octets. */
  readonly cidLength: number;
  readonly algorithm: QuicLbAlgorithm;

  constructor(options: QuicLbConfigOptions) {
    const { configRotation, serverIdLength, nonceLength } = options;
    // §3.1: a configuration MUST NOT use the reserved identifier 0b111.
    if (!Number.isInteger(configRotation) || configRotation < 0 || configRotation > 6) {
      throw new RangeError(`QUIC-LB configRotation must be an integer 0..6, got ${configRotation}`);
    }
    // §5.3: server ID at least 1 octet; Appendix A bounds it to 15.
    if (!Number.isInteger(serverIdLength) || serverIdLength < 1 || serverIdLength > 15) {
      throw new RangeError(`QUIC-LB serverIdLength must be an integer 1..15, got ${serverIdLength}`);
    }
    // §5.3: nonce at least 4 octets; Appendix A bounds it to 18.
    if (!Number.isInteger(nonceLength) || nonceLength < 4 || nonceLength > 18) {
      throw new RangeError(`QUIC-LB nonceLength must be an integer 4..18, got ${nonceLength}`);
    }
    // §5.3: server ID and nonce lengths MUST sum to 19 octets or less.
    if (serverIdLength + nonceLength > 19) {
      throw new RangeError(
        `QUIC-LB serverIdLength + nonceLength must be <= 19, got ${serverIdLength} + ${nonceLength}`,
      );
    }
    const serverUseLength = options.serverUseLength ?? 0;
    const cidLength = 1 + serverIdLength + nonceLength + serverUseLength;
    // §5.4: appended octets only up to the version's CID limit (20 in QUIC v1/v2).
    if (!Number.isInteger(serverUseLength) || serverUseLength < 0 || cidLength > MAX_CID_LENGTH) {
      throw new RangeError(
        `QUIC-LB serverUseLength must be an integer >= 0 keeping the CID within ${MAX_CID_LENGTH} octets, got ${serverUseLength}`,
      );
    }
    this.configRotation = configRotation;
    this.serverIdLength = serverIdLength;
    this.nonceLength = nonceLength;
    this.serverUseLength = serverUseLength;
    this.plaintextLength = serverIdLength + nonceLength;
    this.cidLength = cidLength;
    this.selfEncodeLength = options.selfEncodeLength ?? true;
    this.key = options.key === undefined ? undefined : toAesKey(options.key);
    this.algorithm =
      this.key === undefined
        ? QuicLbAlgorithm.Plaintext
        : this.plaintextLength === 16
          ? QuicLbAlgorithm.SinglePass
          : QuicLbAlgorithm.FourPass;
  }
}

function toAesKey(key: KeyObject | Uint8Array): KeyObject {
  if (key instanceof Uint8Array) {
    if (key.length !== 16) throw new RangeError(`QUIC-LB key must be 16 octets, got ${key.length}`);
    return createSecretKey(Buffer.from(key)); // copies
  }
  if (key.type !== 'secret' || key.symmetricKeySize !== 16) {
    throw new RangeError('QUIC-LB key must be a 16-octet secret KeyObject');
  }
  return key;
}
