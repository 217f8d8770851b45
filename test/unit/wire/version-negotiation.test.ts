import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fromHex, hex } from '../../../src/common/bytes.js';
import { TransportError, TransportErrorCode } from '../../../src/common/errors.js';
import { SeededRandom } from '../../../src/common/random.js';
import { parseHeader, type VersionNegotiationHeader } from '../../../src/wire/header.js';
import { decodeVersionNegotiation, encodeVersionNegotiation } from '../../../src/wire/version-negotiation.js';
import { isReservedVersion, QUIC_V1, QUIC_V2 } from '../../../src/wire/versions.js';

function rejects(h: string): void {
  assert.throws(
    () => decodeVersionNegotiation(fromHex(h)),
    (e: unknown) => e instanceof TransportError && e.code === TransportErrorCode.PROTOCOL_VIOLATION,
  );
}

describe('Version Negotiation (RFC 9000 §17.2.1, RFC 8999 §6)', () => {
  it('encodes echoed CIDs, version 0, the versions and one greased version', () => {
    const rng = new SeededRandom(5);
    const dcid = fromHex('c1c2c3');
    const scid = new Uint8Array(255).fill(0x55);
    const positions = new Set<number>();
    for (let i = 0; i < 40; i++) {
      const p = encodeVersionNegotiation(dcid, scid, [QUIC_V1, QUIC_V2], rng);
      assert.equal(p[0]! & 0xc0, 0xc0);
      assert.equal(hex(p.subarray(1, 5)), '00000000');
      assert.equal(p.length, 7 + 3 + 255 + 12);
      const vn = decodeVersionNegotiation(p);
      assert.equal(hex(vn.dcid), 'c1c2c3');
      assert.equal(hex(vn.scid), hex(scid));
      assert.equal(vn.versions.length, 3);
      const greased = vn.versions.filter(isReservedVersion);
      assert.equal(greased.length, 1);
      positions.add(vn.versions.indexOf(greased[0]!));
      assert.deepEqual(
        vn.versions.filter((v) => !isReservedVersion(v)),
        [QUIC_V1, QUIC_V2],
      );
      const h = parseHeader(p, 0, 8) as VersionNegotiationHeader;
      assert.equal(h.form, 'version-negotiation');
      assert.equal(h.versionsOffset, 7 + 3 + 255);
    }
    assert.equal(positions.size, 3);
  });

  it('decodes a hand-built packet, ignoring the unused bits', () => {
    const vn = decodeVersionNegotiation(fromHex('8a00000000' + '00' + '0401020304' + '000000016b3343cf'));
    assert.equal(vn.dcid.length, 0);
    assert.equal(hex(vn.scid), '01020304');
    assert.deepEqual(vn.versions, [1, 0x6b3343cf]);
  });

  it('rejects what is not a well-formed Version Negotiation packet', () => {
    rejects('');
    rejects('4a00000000000000000001'); // short header
    rejects('c000000001000000000001'); // version 1
    rejects('c0000000000000'); // no versions
    rejects('c000000000000000000001aa'); // truncated version
    rejects('c00000000005aabb'); // truncated CID
    rejects('c0000000000001');
  });

  it('refuses connection IDs longer than 255 octets', () => {
    assert.throws(
      () => encodeVersionNegotiation(new Uint8Array(256), new Uint8Array(0), [1], new SeededRandom(1)),
      RangeError,
    );
  });
});
