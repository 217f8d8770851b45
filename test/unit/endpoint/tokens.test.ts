import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { socketAddress } from '../../../src/common/addr.js';
import { fromHex, hex } from '../../../src/common/bytes.js';
import { SeededRandom } from '../../../src/common/random.js';
import { AddressTokens, TokenKind } from '../../../src/endpoint/tokens.js';
import { checkDecoder } from '../../support/property.js';

const KEY = fromHex('000102030405060708090a0b0c0d0e0f');
const CLIENT = socketAddress('192.0.2.7', 51000);
const CLIENT6 = socketAddress('2001:db8::7', 443);
const ODCID = fromHex('8394c8f03e515708');
const SCID = fromHex('f067a5502a4262b5');
const T0 = 1_700_000_000_000; // wall-clock ms

function tokens(seed = 1, opts = {}): AddressTokens {
  return new AddressTokens(KEY, { random: new SeededRandom(seed), ...opts });
}

describe('AddressTokens', () => {
  it('round trips a Retry token with its connection IDs', () => {
    const t = tokens();
    const token = t.issueRetryToken({ clientAddress: CLIENT, originalDcid: ODCID, retryScid: SCID, now: T0 });
    assert.equal(token[0], TokenKind.Retry);
    const v = t.validate(token, CLIENT, T0 + 500);
    assert.equal(v.kind, 'retry');
    if (v.kind !== 'retry') return;
    assert.equal(hex(v.originalDcid), hex(ODCID));
    assert.equal(hex(v.retryScid), hex(SCID));
    assert.equal(v.issuedAt, T0);
  });

  it('round trips a NEW_TOKEN token, IPv4 and IPv6, with any client port', () => {
    const t = tokens();
    for (const addr of [CLIENT, CLIENT6]) {
      const token = t.issueNewToken({ clientAddress: addr, now: T0 });
      assert.equal(token[0], TokenKind.NewToken);
      assert.deepEqual(t.validate(token, addr, T0 + 3600_000), { kind: 'new-token', issuedAt: T0 });
      // RFC 9000 §8.1.3: the port changes across connections; only the IP is bound.
      assert.equal(t.validate(token, socketAddress(addr.address, addr.port + 1), T0).kind, 'new-token');
    }
  });

  it('validates with another instance holding the same key', () => {
    const token = tokens(1).issueNewToken({ clientAddress: CLIENT, now: T0 });
    assert.equal(tokens(2).validate(token, CLIENT, T0).kind, 'new-token');
  });

  it('expires Retry tokens after 10 s and NEW_TOKEN tokens after 24 h by default', () => {
    const t = tokens();
    const retry = t.issueRetryToken({ clientAddress: CLIENT, originalDcid: ODCID, retryScid: SCID, now: T0 });
    assert.equal(t.validate(retry, CLIENT, T0 + 10_000).kind, 'retry');
    assert.deepEqual(t.validate(retry, CLIENT, T0 + 10_001), { kind: 'invalid', reason: 'expired' });
    const nt = t.issueNewToken({ clientAddress: CLIENT, now: T0 });
    assert.equal(t.validate(nt, CLIENT, T0 + 86_400_000).kind, 'new-token');
    assert.deepEqual(t.validate(nt, CLIENT, T0 + 86_400_001), { kind: 'invalid', reason: 'expired' });
    // Tokens from the future beyond the tolerated skew are refused.
    assert.equal(t.validate(nt, CLIENT, T0 - 5_000).kind, 'new-token');
    assert.deepEqual(t.validate(nt, CLIENT, T0 - 5_001), { kind: 'invalid', reason: 'issued in the future' });
  });

  it('honours custom lifetimes', () => {
    const t = tokens(1, { retryLifetimeMs: 100, newTokenLifetimeMs: 1000, maxClockSkewMs: 0 });
    const retry = t.issueRetryToken({ clientAddress: CLIENT, originalDcid: ODCID, retryScid: SCID, now: T0 });
    assert.equal(t.validate(retry, CLIENT, T0 + 101).kind, 'invalid');
    const nt = t.issueNewToken({ clientAddress: CLIENT, now: T0 });
    assert.equal(t.validate(nt, CLIENT, T0 + 1000).kind, 'new-token');
    assert.equal(t.validate(nt, CLIENT, T0 - 1).kind, 'invalid');
  });

  it('rejects a different client address (Retry: IP or port; NEW_TOKEN: IP)', () => {
    const t = tokens();
    const retry = t.issueRetryToken({ clientAddress: CLIENT, originalDcid: ODCID, retryScid: SCID, now: T0 });
    assert.equal(t.validate(retry, socketAddress('192.0.2.8', 51000), T0).kind, 'invalid');
    assert.equal(t.validate(retry, socketAddress('192.0.2.7', 51001), T0).kind, 'invalid');
    assert.equal(t.validate(retry, socketAddress('::ffff:192.0.2.7', 51000), T0).kind, 'invalid');
    const nt = t.issueNewToken({ clientAddress: CLIENT6, now: T0 });
    assert.equal(t.validate(nt, socketAddress('2001:db8::8', 443), T0).kind, 'invalid');
    assert.equal(t.validate(nt, CLIENT, T0).kind, 'invalid');
  });

  it('rejects every tampered octet and tokens under another key', () => {
    const t = tokens();
    for (const token of [
      t.issueRetryToken({ clientAddress: CLIENT, originalDcid: ODCID, retryScid: SCID, now: T0 }),
      t.issueNewToken({ clientAddress: CLIENT, now: T0 }),
    ]) {
      for (let i = 0; i < token.length; i++) {
        const bad = token.slice();
        bad[i]! ^= 0x04;
        assert.equal(t.validate(bad, CLIENT, T0).kind, 'invalid', `octet ${i}`);
      }
      assert.equal(t.validate(token.subarray(0, token.length - 1), CLIENT, T0).kind, 'invalid');
      const other = new AddressTokens(fromHex('ff0102030405060708090a0b0c0d0e0f'));
      assert.deepEqual(other.validate(token, CLIENT, T0), {
        kind: 'invalid',
        reason: 'authentication failed',
      });
    }
  });

  it('keeps the two kinds apart (RFC 9000 §8.1.1): relabelled tokens fail', () => {
    const t = tokens();
    const retry = t.issueRetryToken({ clientAddress: CLIENT, originalDcid: ODCID, retryScid: SCID, now: T0 });
    const asNew = retry.slice();
    asNew[0] = TokenKind.NewToken;
    assert.equal(t.validate(asNew, CLIENT, T0).kind, 'invalid');
    const nt = t.issueNewToken({ clientAddress: CLIENT, now: T0 });
    const asRetry = nt.slice();
    asRetry[0] = TokenKind.Retry;
    assert.equal(t.validate(asRetry, CLIENT, T0).kind, 'invalid');
    const unknown = nt.slice();
    unknown[0] = 0x00;
    assert.deepEqual(t.validate(unknown, CLIENT, T0), { kind: 'invalid', reason: 'unknown kind' });
  });

  it('issues unique tokens (random nonce) that do not reveal the address in clear', () => {
    const t = new AddressTokens(KEY);
    const a = t.issueNewToken({ clientAddress: CLIENT, now: T0 });
    const b = t.issueNewToken({ clientAddress: CLIENT, now: T0 });
    assert.notEqual(hex(a), hex(b));
    assert.ok(!hex(a).includes('c0000207')); // 192.0.2.7
    const r = t.issueRetryToken({ clientAddress: CLIENT, originalDcid: ODCID, retryScid: SCID, now: T0 });
    assert.ok(!hex(r).includes(hex(ODCID)));
  });

  it('rejects bad keys and connection IDs at issue time', () => {
    assert.throws(() => new AddressTokens(new Uint8Array(32)), RangeError);
    assert.throws(
      () =>
        tokens().issueRetryToken({
          clientAddress: CLIENT,
          originalDcid: new Uint8Array(21),
          retryScid: SCID,
          now: T0,
        }),
      RangeError,
    );
  });

  it('validate never throws on hostile input (property)', () => {
    const t = tokens();
    const corpus = [
      t.issueRetryToken({ clientAddress: CLIENT, originalDcid: ODCID, retryScid: SCID, now: T0 }),
      t.issueRetryToken({
        clientAddress: CLIENT,
        originalDcid: new Uint8Array(0),
        retryScid: new Uint8Array(20),
        now: T0,
      }),
      t.issueNewToken({ clientAddress: CLIENT, now: T0 }),
    ];
    let valid = 0;
    const decoded = checkDecoder('AddressTokens.validate', (input) => t.validate(input, CLIENT, T0 + 1), {
      corpus,
      maxLength: 80,
      onDecoded: (input, value) => {
        const v = value as ReturnType<AddressTokens['validate']>;
        if (v.kind !== 'invalid') {
          valid++;
          assert.ok(
            corpus.some((c) => hex(c) === hex(input)),
            'only genuine tokens validate',
          );
        }
      },
    });
    assert.equal(decoded, 100_000);
    assert.ok(valid > 0);
  });
});
