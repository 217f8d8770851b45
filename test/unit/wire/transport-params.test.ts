import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fromHex, hex } from '../../../src/common/bytes.js';
import { TransportError, TransportErrorCode } from '../../../src/common/errors.js';
import type { Role } from '../../../src/common/levels.js';
import { SeededRandom } from '../../../src/common/random.js';
import { BufferReader } from '../../../src/wire/reader.js';
import {
  decodeTransportParameters,
  defaultTransportParameters,
  encodeTransportParameters,
  type TransportParameters,
  validateConnectionIdParameters,
} from '../../../src/wire/transport-params.js';
import { QUIC_V1, QUIC_V2 } from '../../../src/wire/versions.js';
import { BufferWriter } from '../../../src/wire/writer.js';

const TPE = TransportErrorCode.TRANSPORT_PARAMETER_ERROR;

function rejects(h: string | Uint8Array, role: Role): void {
  const bytes = typeof h === 'string' ? fromHex(h) : h;
  assert.throws(
    () => decodeTransportParameters(bytes, role),
    (e: unknown) => {
      assert.ok(e instanceof TransportError, String(e));
      assert.equal(e.code, TPE, `${hex(bytes)}: ${e.message}`);
      return true;
    },
  );
}

/** id, length and value as hex. */
function param(id: number, value: string): string {
  const w = new BufferWriter(16);
  w.varint(id).varint(value.length / 2);
  return hex(w.finish()) + value;
}

function int(id: number, v: number): string {
  const w = new BufferWriter(16);
  w.varint(v);
  return param(id, hex(w.finish()));
}

function serverParameters(): TransportParameters {
  return {
    originalDestinationConnectionId: fromHex('8394c8f03e515708'),
    maxIdleTimeout: 30_000,
    statelessResetToken: fromHex('00112233445566778899aabbccddeeff'),
    maxUdpPayloadSize: 1452,
    initialMaxData: 2 ** 40,
    initialMaxStreamDataBidiLocal: 1,
    initialMaxStreamDataBidiRemote: 2,
    initialMaxStreamDataUni: 3,
    initialMaxStreamsBidi: 2 ** 60,
    initialMaxStreamsUni: 100,
    ackDelayExponent: 20,
    maxAckDelay: 2 ** 14 - 1,
    disableActiveMigration: true,
    preferredAddress: {
      ipv4: { address: '192.0.2.7', port: 4433 },
      ipv6: { address: '2001:db8::7', port: 443 },
      connectionId: fromHex('0102030405'),
      statelessResetToken: fromHex('ffeeddccbbaa99887766554433221100'),
    },
    activeConnectionIdLimit: 8,
    initialSourceConnectionId: fromHex('a1a2a3a4'),
    retrySourceConnectionId: fromHex('b1b2b3b4b5'),
    maxDatagramFrameSize: 65535,
    versionInformation: { chosen: QUIC_V1, available: [QUIC_V2, 0x1a2a3a4a] },
    greaseQuicBit: true,
  };
}

describe('transport parameters (RFC 9000 §18)', () => {
  it('has the §18.2 defaults', () => {
    const d = defaultTransportParameters();
    assert.equal(d.maxUdpPayloadSize, 65527);
    assert.equal(d.ackDelayExponent, 3);
    assert.equal(d.maxAckDelay, 25);
    assert.equal(d.activeConnectionIdLimit, 2);
    assert.equal(d.maxIdleTimeout, 0);
    assert.equal(d.initialMaxData, 0);
    assert.equal(d.disableActiveMigration, false);
    assert.equal(d.preferredAddress, undefined);
    assert.equal(d.maxDatagramFrameSize, undefined);
    assert.equal(d.greaseQuicBit, false);
    assert.deepEqual(decodeTransportParameters(new Uint8Array(0), 'client'), d);
    assert.equal(encodeTransportParameters(d, { role: 'server' }).length, 0);
  });

  it('decodes the client parameters of the RFC 9001 A.2 ClientHello', () => {
    const bytes = fromHex(
      '0408ffffffffffffffff05048000ffff07048000ffff080110010480007530090110' +
        '0f088394c8f03e51570806048000ffff',
    );
    const tp = decodeTransportParameters(bytes, 'client');
    assert.equal(tp.initialMaxData, 2 ** 62 - 1);
    assert.equal(tp.initialMaxStreamDataBidiLocal, 65535);
    assert.equal(tp.initialMaxStreamDataBidiRemote, 65535);
    assert.equal(tp.initialMaxStreamDataUni, 65535);
    assert.equal(tp.initialMaxStreamsBidi, 16);
    assert.equal(tp.initialMaxStreamsUni, 16);
    assert.equal(tp.maxIdleTimeout, 30_000);
    assert.equal(hex(tp.initialSourceConnectionId!), '8394c8f03e515708');
    assert.equal(tp.maxUdpPayloadSize, 65527);
  });

  it('round-trips server parameters, copying byte values', () => {
    const tp = serverParameters();
    const bytes = encodeTransportParameters(tp, { role: 'server' });
    const back = decodeTransportParameters(bytes, 'server');
    assert.deepEqual(back, tp);
    assert.notEqual(back.initialSourceConnectionId!.buffer, bytes.buffer);
  });

  it('round-trips preferred addresses of one family', () => {
    const tp = serverParameters();
    tp.preferredAddress!.ipv4 = undefined;
    assert.deepEqual(
      decodeTransportParameters(encodeTransportParameters(tp, { role: 'server' }), 'server'),
      tp,
    );
    tp.preferredAddress!.ipv4 = { address: '10.0.0.1', port: 1 };
    tp.preferredAddress!.ipv6 = undefined;
    assert.deepEqual(
      decodeTransportParameters(encodeTransportParameters(tp, { role: 'server' }), 'server'),
      tp,
    );
  });

  it('leaves server-only parameters out of client parameters', () => {
    const tp = serverParameters();
    tp.versionInformation = { chosen: QUIC_V1, available: [QUIC_V1, QUIC_V2] };
    const back = decodeTransportParameters(encodeTransportParameters(tp, { role: 'client' }), 'client');
    assert.equal(back.originalDestinationConnectionId, undefined);
    assert.equal(back.statelessResetToken, undefined);
    assert.equal(back.preferredAddress, undefined);
    assert.equal(back.retrySourceConnectionId, undefined);
    assert.deepEqual(back, {
      ...tp,
      originalDestinationConnectionId: undefined,
      statelessResetToken: undefined,
      preferredAddress: undefined,
      retrySourceConnectionId: undefined,
    });
  });

  it('adds one reserved GREASE parameter 31*N+27, ignored by the decoder (§18.1, §7.4.2)', () => {
    const tp = serverParameters();
    const rng = new SeededRandom(99);
    const ids = new Set<number>();
    for (let i = 0; i < 50; i++) {
      const bytes = encodeTransportParameters(tp, { role: 'server', greaseRandom: rng });
      const r = new BufferReader(bytes);
      const reserved: number[] = [];
      while (!r.done) {
        const id = r.varint();
        r.skip(r.varint());
        if ((id - 27) % 31 === 0) reserved.push(id);
      }
      // No defined parameter id has the form 31*N+27.
      assert.equal(reserved.length, 1);
      ids.add(reserved[0]!);
      assert.deepEqual(decodeTransportParameters(bytes, 'server'), tp);
    }
    assert.ok(ids.size > 40);
  });

  it('ignores unknown parameters', () => {
    const tp = decodeTransportParameters(
      fromHex(param(0x1b, 'aabbcc') + param(0x4000, '') + int(0x01, 5)),
      'client',
    );
    assert.equal(tp.maxIdleTimeout, 5);
  });
});

describe('transport parameters: validation', () => {
  it('rejects duplicates (§7.4), also of unknown parameters', () => {
    rejects(int(0x01, 5) + int(0x01, 5), 'client');
    rejects(param(0x1b, '') + param(0x1b, ''), 'server');
  });

  it('rejects server-only parameters from a client (§18.2)', () => {
    rejects(param(0x00, '0102'), 'client');
    rejects(param(0x02, '00'.repeat(16)), 'client');
    rejects(param(0x10, '0102'), 'client');
    const pa = `${'00'.repeat(4)}0000${'00'.repeat(16)}00000411223344${'00'.repeat(16)}`;
    rejects(param(0x0d, pa), 'client');
    assert.ok(decodeTransportParameters(fromHex(param(0x0d, pa)), 'server').preferredAddress);
  });

  it('rejects out-of-range values', () => {
    rejects(int(0x03, 1199), 'client');
    assert.equal(decodeTransportParameters(fromHex(int(0x03, 1200)), 'client').maxUdpPayloadSize, 1200);
    rejects(int(0x0a, 21), 'server');
    assert.equal(decodeTransportParameters(fromHex(int(0x0a, 20)), 'server').ackDelayExponent, 20);
    rejects(int(0x0b, 2 ** 14), 'client');
    rejects(int(0x0e, 1), 'client');
    rejects(int(0x0e, 0), 'server');
    rejects(param(0x08, 'd000000000000001'), 'client');
    rejects(param(0x09, 'ffffffffffffffff'), 'server');
    assert.equal(
      decodeTransportParameters(fromHex(param(0x09, 'd000000000000000')), 'server').initialMaxStreamsUni,
      2 ** 60,
    );
  });

  it('rejects stateless reset tokens that are not 16 octets and connection IDs over 20', () => {
    rejects(param(0x02, '00'.repeat(15)), 'server');
    rejects(param(0x02, '00'.repeat(17)), 'server');
    rejects(param(0x00, '00'.repeat(21)), 'server');
    rejects(param(0x0f, '00'.repeat(21)), 'client');
    rejects(param(0x10, '00'.repeat(21)), 'server');
    assert.equal(
      decodeTransportParameters(fromHex(param(0x0f, '')), 'client').initialSourceConnectionId?.length,
      0,
    );
  });

  it('rejects malformed preferred_address (§18.2)', () => {
    const head = `${'00'.repeat(4)}0000${'00'.repeat(16)}0000`;
    const token = '00'.repeat(16);
    rejects(param(0x0d, `${head}00${token}`), 'server'); // zero-length CID
    rejects(param(0x0d, `${head}15${'11'.repeat(21)}${token}`), 'server');
    rejects(param(0x0d, `${head}04${'11'.repeat(4)}${'00'.repeat(15)}`), 'server'); // short
    rejects(param(0x0d, `${head}04${'11'.repeat(4)}${token}00`), 'server'); // long
  });

  it('rejects values whose length disagrees with their encoding', () => {
    rejects(param(0x01, ''), 'client');
    rejects(param(0x01, '0500'), 'client');
    rejects(param(0x04, '40'), 'client'); // 2-octet varint cut short
    rejects(param(0x0c, '00'), 'client');
    rejects(param(0x2ab2, '00'), 'client'); // RFC 9287 §3
    assert.equal(
      decodeTransportParameters(fromHex(param(0x2ab2, '') + param(0x0c, '')), 'client').greaseQuicBit,
      true,
    );
  });

  it('rejects truncation anywhere', () => {
    const bytes = encodeTransportParameters(serverParameters(), { role: 'server' });
    let rejected = 0;
    for (let n = 1; n < bytes.length; n++) {
      try {
        decodeTransportParameters(bytes.subarray(0, n), 'server');
      } catch (e) {
        assert.ok(e instanceof TransportError && e.code === TPE);
        rejected++;
      }
    }
    // Only cuts at parameter boundaries decode.
    assert.ok(rejected > bytes.length - 25);
  });

  it('rejects malformed version_information (RFC 9368 §3, §4)', () => {
    rejects(param(0x11, ''), 'server');
    rejects(param(0x11, '000000'), 'server');
    rejects(param(0x11, '0000000100'), 'server');
    rejects(param(0x11, '00000000'), 'server'); // chosen 0
    rejects(param(0x11, '0000000100000000'), 'server'); // available 0
    rejects(param(0x11, '000000016b3343cf'), 'client'); // client: chosen not in available
    const s = decodeTransportParameters(fromHex(param(0x11, '00000001')), 'server');
    assert.deepEqual(s.versionInformation, { chosen: 1, available: [] });
    const c = decodeTransportParameters(fromHex(param(0x11, '000000016b3343cf00000001')), 'client');
    assert.deepEqual(c.versionInformation, { chosen: 1, available: [QUIC_V2, QUIC_V1] });
  });
});

describe('validateConnectionIdParameters (RFC 9000 §7.3; role = validating endpoint)', () => {
  const odcid = fromHex('8394c8f03e515708');
  const scid = fromHex('a1a2a3a4');
  const rscid = fromHex('b1b2b3b4b5');
  const afterRetry = {
    originalDestinationConnectionId: odcid,
    initialSourceConnectionId: scid,
    retrySourceConnectionId: rscid,
  };
  const noRetry = { originalDestinationConnectionId: odcid, initialSourceConnectionId: scid };

  function throwsTpe(fn: () => void): void {
    assert.throws(fn, (e: unknown) => e instanceof TransportError && e.code === TPE);
  }

  it('accepts matching values (client validating a server, server validating a client)', () => {
    validateConnectionIdParameters(serverParameters(), afterRetry, 'client');
    const client = { ...defaultTransportParameters(), initialSourceConnectionId: new Uint8Array(0) };
    validateConnectionIdParameters(client, { initialSourceConnectionId: new Uint8Array(0) }, 'server');
  });

  it('rejects absent and mismatched initial_source_connection_id', () => {
    throwsTpe(() =>
      validateConnectionIdParameters(
        defaultTransportParameters(),
        { initialSourceConnectionId: scid },
        'server',
      ),
    );
    const tp = { ...defaultTransportParameters(), initialSourceConnectionId: fromHex('a1a2a3a5') };
    throwsTpe(() => validateConnectionIdParameters(tp, { initialSourceConnectionId: scid }, 'server'));
    const server = serverParameters();
    server.initialSourceConnectionId = undefined;
    throwsTpe(() => validateConnectionIdParameters(server, afterRetry, 'client'));
  });

  it('rejects server-only values in client parameters', () => {
    const tp = {
      ...defaultTransportParameters(),
      initialSourceConnectionId: scid,
      retrySourceConnectionId: rscid,
    };
    throwsTpe(() => validateConnectionIdParameters(tp, { initialSourceConnectionId: scid }, 'server'));
  });

  it('rejects absent and mismatched original_destination_connection_id from a server', () => {
    const tp = serverParameters();
    tp.retrySourceConnectionId = undefined;
    tp.originalDestinationConnectionId = undefined;
    throwsTpe(() => validateConnectionIdParameters(tp, noRetry, 'client'));
    tp.originalDestinationConnectionId = fromHex('8394c8f03e515709');
    throwsTpe(() => validateConnectionIdParameters(tp, noRetry, 'client'));
    tp.originalDestinationConnectionId = odcid;
    validateConnectionIdParameters(tp, noRetry, 'client');
  });

  it('checks retry_source_connection_id against the Retry', () => {
    const tp = serverParameters();
    // Present without a Retry.
    throwsTpe(() => validateConnectionIdParameters(tp, noRetry, 'client'));
    // Mismatch.
    throwsTpe(() =>
      validateConnectionIdParameters(tp, { ...afterRetry, retrySourceConnectionId: fromHex('b1') }, 'client'),
    );
    // Absent after a Retry.
    tp.retrySourceConnectionId = undefined;
    throwsTpe(() => validateConnectionIdParameters(tp, afterRetry, 'client'));
  });
});
