// Stateless reset tokens from one static key (RFC 9000 §10.3.2): HMAC-SHA256(key, cid)
// truncated to 16 octets, so any process holding the key can reset a connection it lost.
import { createHmac, createSecretKey, type KeyObject } from 'node:crypto';
import { constantTimeEqual } from '../common/bytes.js';

export const STATELESS_RESET_TOKEN_LENGTH = 16;

export class StatelessResetTokens {
  readonly #key: KeyObject;

  /** `key`: at least 16 secret octets, shared by every instance that may reset these CIDs. */
  constructor(key: Uint8Array) {
    if (key.length < 16) throw new RangeError('stateless reset key must be at least 16 octets');
    this.#key = createSecretKey(key);
  }

  /**
   * The token for a connection ID we issued. RFC 9000 §10.3.2: this method cannot serve
   * zero-length connection IDs (RangeError).
   */
  tokenFor(cid: Uint8Array): Uint8Array {
    if (cid.length === 0) throw new RangeError('stateless reset needs a non-empty connection ID');
    const mac = createHmac('sha256', this.#key).update(cid).digest();
    return new Uint8Array(mac.buffer, mac.byteOffset, STATELESS_RESET_TOKEN_LENGTH);
  }

  /** Constant-time check of a token against the one for `cid`. */
  matches(cid: Uint8Array, token: Uint8Array): boolean {
    return (
      cid.length > 0 &&
      token.length === STATELESS_RESET_TOKEN_LENGTH &&
      constantTimeEqual(this.tokenFor(cid), token)
    );
  }
}
