import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { CloseInfo } from '../../src/connection/events.js';
import {
  closeInfoToError,
  isQuicError,
  QUIC_ERROR_BRAND,
  QuicApplicationError,
  QuicError,
  QuicHandshakeFailedError,
  QuicIdleTimeoutError,
  QuicPathError,
  QuicStatelessResetError,
  QuicStreamResetError,
  QuicTransportError,
} from '../../src/node/index.js';

const info = (o: Partial<CloseInfo>): CloseInfo => ({
  source: 'remote',
  application: false,
  code: 0,
  frameType: 0,
  reason: '',
  ...o,
});

test('closeInfoToError: clean closes map to undefined', () => {
  assert.equal(closeInfoToError(info({ source: 'local', application: true, code: 7 })), undefined);
  assert.equal(closeInfoToError(info({ source: 'local', application: false, code: 0 })), undefined);
  assert.equal(closeInfoToError(info({ source: 'remote', application: true, code: 0 })), undefined);
  assert.equal(closeInfoToError(info({ source: 'remote', application: false, code: 0 })), undefined);
  // The application's own "no error" code (H3_NO_ERROR for HTTP/3) is clean too.
  assert.equal(closeInfoToError(info({ application: true, code: 0x100 }), 0x100), undefined);
  assert.ok(closeInfoToError(info({ application: true, code: 0x100 })) instanceof QuicApplicationError);
});

test('closeInfoToError: every other close is a typed QuicError with its cause', () => {
  const app = closeInfoToError(info({ application: true, code: 0x10c, reason: 'cancel' }));
  assert.ok(app instanceof QuicApplicationError);
  assert.equal(app.code, 'ERR_QUIC_APPLICATION_ERROR');
  assert.equal(app.errorCode, 0x10c);
  assert.equal(app.reason, 'cancel');
  assert.equal((app.cause as CloseInfo).code, 0x10c);

  const tr = closeInfoToError(info({ code: 0x0a, frameType: 0x08, reason: 'bad frame' }));
  assert.ok(tr instanceof QuicTransportError);
  assert.equal(tr.code, 'ERR_QUIC_TRANSPORT_ERROR');
  assert.equal(tr.errorCode, 0x0a);
  assert.equal(tr.errorName, 'PROTOCOL_VIOLATION');
  assert.equal(tr.frameType, 8);
  assert.equal(tr.remote, true);

  const local = closeInfoToError(info({ source: 'local', code: 0x03 }));
  assert.ok(local instanceof QuicTransportError);
  assert.equal(local.remote, false);
  assert.equal(local.errorName, 'FLOW_CONTROL_ERROR');

  // CRYPTO_ERROR 0x130 = TLS alert 48 (unknown_ca), RFC 9001 §4.8.
  const hs = closeInfoToError(info({ code: 0x130 }));
  assert.ok(hs instanceof QuicHandshakeFailedError);
  assert.ok(hs instanceof QuicTransportError);
  assert.equal(hs.code, 'ERR_QUIC_HANDSHAKE_FAILED');
  assert.equal(hs.alert, 48);
  assert.equal(hs.alertName, 'unknown_ca');

  assert.ok(closeInfoToError(info({ source: 'idle' })) instanceof QuicIdleTimeoutError);
  const reset = closeInfoToError(info({ source: 'stateless-reset' }));
  assert.ok(reset instanceof QuicStatelessResetError);
  assert.equal(reset.code, 'ERR_QUIC_STATELESS_RESET');
});

test('the brand makes instanceof work across copies of the package', () => {
  // What a second copy of the package would create: another class with the same brand and name.
  class QuicPathErrorCopy extends Error {
    readonly code = 'ERR_QUIC_PATH_VALIDATION_FAILED';
    get [Symbol.for('feather-quic.error')](): true {
      return true;
    }
  }
  Object.defineProperty(QuicPathErrorCopy, 'name', { value: 'QuicPathError' });
  const foreign = new QuicPathErrorCopy('x');
  foreign.name = 'QuicPathError';
  assert.equal(isQuicError(foreign), true);
  assert.ok(foreign instanceof QuicError);
  assert.ok(foreign instanceof QuicPathError);
  assert.equal(foreign instanceof QuicStreamResetError, false);
  assert.equal(isQuicError(new Error('plain')), false);
  assert.equal(new Error('plain') instanceof QuicError, false);
  assert.equal(QUIC_ERROR_BRAND, Symbol.for('feather-quic.error'));
  const own = new QuicStreamResetError(4, 9, 'reset');
  assert.equal(own.name, 'QuicStreamResetError');
  assert.ok(own instanceof QuicError);
  assert.equal(own[QUIC_ERROR_BRAND], true);
});
