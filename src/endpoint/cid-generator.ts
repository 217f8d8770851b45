// Connection-ID generation is pluggable: random by default; QUIC-LB encoders and worker-ID
// schemes implement the same interface (RFC 9000 §5.1, draft-ietf-quic-load-balancers).

import { cryptoRandom, type Random } from '../common/random.js';
import type { Duration } from '../common/time.js';

export interface ConnectionIdGenerator {
  /**
   * Length in octets (0..20) of every CID this generator makes. Fixed per endpoint: short
   * headers carry no length, so the endpoint parses incoming DCIDs with it.
   */
  readonly length: number;
  /** A fresh, unpredictable connection ID of `length` octets. */
  generate(): Uint8Array;
  /** Whether `cid` could have come from this generator (e.g. it carries our server ID). */
  validate?(cid: Uint8Array): boolean;
  /** After this long, connections replace their CIDs with fresh ones. */
  readonly lifetime?: Duration;
  /**
   * False: connections never send NEW_CONNECTION_ID (only the handshake CID, and the preferred
   * address CID, are used), e.g. QUIC-LB plaintext or unroutable CIDs (draft-ietf-quic-load-balancers §3.2, §9).
   */
  readonly sendNewConnectionIds?: boolean;
  /** True: servers send disable_active_migration (unroutable QUIC-LB CIDs, §3.2). */
  readonly disableActiveMigration?: boolean;
}

export const MAX_CID_LENGTH = 20;

export class RandomConnectionIdGenerator implements ConnectionIdGenerator {
  readonly length: number;
  readonly #random: Random;

  constructor(length = 8, random: Random = cryptoRandom) {
    if (!Number.isInteger(length) || length < 0 || length > MAX_CID_LENGTH) {
      throw new RangeError(`connection ID length must be 0..${MAX_CID_LENGTH}`);
    }
    this.length = length;
    this.#random = random;
  }

  generate(): Uint8Array {
    const cid = new Uint8Array(this.length);
    this.#random.fill(cid);
    return cid;
  }
}
