import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SeededRandom } from '../../../src/common/random.js';
import {
  greaseVersion,
  isReservedVersion,
  isSupportedVersion,
  QUIC_V1,
  QUIC_V2,
  SUPPORTED_VERSIONS,
} from '../../../src/wire/versions.js';

describe('versions', () => {
  it('has the v1 and v2 numbers (RFC 9000 §15, RFC 9369 §3.1)', () => {
    assert.equal(QUIC_V1, 1);
    assert.equal(QUIC_V2, 0x6b3343cf);
    assert.deepEqual([...SUPPORTED_VERSIONS], [QUIC_V1, QUIC_V2]);
    assert.ok(isSupportedVersion(QUIC_V2));
    assert.ok(!isSupportedVersion(0xff00001d));
  });

  it('recognises the reserved 0x?a?a?a?a pattern (RFC 9000 §15)', () => {
    assert.ok(isReservedVersion(0x0a0a0a0a));
    assert.ok(isReservedVersion(0xfafafafa));
    assert.ok(isReservedVersion(0x1a2a3a4a));
    assert.ok(!isReservedVersion(QUIC_V1));
    assert.ok(!isReservedVersion(QUIC_V2));
    assert.ok(!isReservedVersion(0x0a0a0a0b));
  });

  it('greases with reserved versions only, varying the high nibbles', () => {
    const rng = new SeededRandom(7);
    const seen = new Set<number>();
    for (let i = 0; i < 200; i++) {
      const v = greaseVersion(rng);
      assert.ok(isReservedVersion(v), v.toString(16));
      assert.ok(v >= 0 && v <= 0xffffffff);
      seen.add(v);
    }
    assert.ok(seen.size > 150);
  });
});
