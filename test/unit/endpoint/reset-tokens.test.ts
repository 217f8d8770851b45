import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { describe, it } from 'node:test';
import { fromHex, hex } from '../../../src/common/bytes.js';
import { SeededRandom } from '../../../src/common/random.js';
import { STATELESS_RESET_TOKEN_LENGTH, StatelessResetTokens } from '../../../src/endpoint/reset-tokens.js';

const KEY = fromHex('00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff');

describe('StatelessResetTokens', () => {
  it('is HMAC-SHA256(key, cid) truncated to 16 octets (RFC 9000 §10.3.2)', () => {
    const cid = fromHex('8394c8f03e515708');
    const expected = createHmac('sha256', KEY).update(cid).digest().subarray(0, 16);
    const token = new StatelessResetTokens(KEY).tokenFor(cid);
    assert.equal(token.length, STATELESS_RESET_TOKEN_LENGTH);
    assert.equal(hex(token), hex(expected));
  });

  it('is deterministic across instances with the same key, distinct across keys and CIDs', () => {
    const rng = new SeededRandom(4);
    const a = new StatelessResetTokens(KEY);
    const b = new StatelessResetTokens(KEY.slice());
    const other = new StatelessResetTokens(new Uint8Array(32).fill(7));
    const seen = new Set<string>();
    for (let i = 0; i < 500; i++) {
      const cid = new Uint8Array(8 + rng.int(13));
      rng.fill(cid);
      const t = hex(a.tokenFor(cid));
      assert.equal(hex(b.tokenFor(cid)), t);
      assert.notEqual(hex(other.tokenFor(cid)), t);
      seen.add(t);
    }
    assert.equal(seen.size, 500);
  });

  it('matches tokens in constant time and refuses empty CIDs and weak keys', () => {
    const r = new StatelessResetTokens(KEY);
    const cid = fromHex('0102030405060708');
    const token = r.tokenFor(cid);
    assert.equal(r.matches(cid, token), true);
    const bad = token.slice();
    bad[15]! ^= 1;
    assert.equal(r.matches(cid, bad), false);
    assert.equal(r.matches(cid, token.subarray(0, 15)), false);
    assert.equal(r.matches(new Uint8Array(0), token), false);
    assert.throws(() => r.tokenFor(new Uint8Array(0)), RangeError);
    assert.throws(() => new StatelessResetTokens(new Uint8Array(15)), RangeError);
  });
});
