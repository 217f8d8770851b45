// Failures end the handshake with the RFC's alert as CRYPTO_ERROR (0x100 + alert, RFC 9001 §4.8)
// or the QUIC error RFC 9001 prescribes.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { TransportError, TransportErrorCode } from '../../../src/common/errors.js';
import { Level } from '../../../src/common/levels.js';
import { ExtensionType, HandshakeType } from '../../../src/tls/constants.js';
import { createClientSession, createServerSession, type TlsSession } from '../../../src/tls/index.js';
import {
  decodeClientHello,
  decodeEncryptedExtensions,
  decodeServerHello,
  type Extension,
  encodeAlpn,
  encodeClientHello,
  encodeExtensionsMessage,
  encodeServerHello,
  handshakeMessage,
} from '../../../src/tls/messages.js';
import { BufferWriter } from '../../../src/wire/writer.js';
import {
  alertOfError,
  chain,
  clientConfig,
  connect,
  joinMessages,
  NOW,
  pem,
  rewriteMessage,
  serverConfig,
  splitMessages,
  type Tamper,
} from './tls-helpers.js';

const Alert = {
  unexpected_message: 10,
  handshake_failure: 40,
  bad_certificate: 42,
  unsupported_certificate: 43,
  certificate_expired: 45,
  illegal_parameter: 47,
  unknown_ca: 48,
  decode_error: 50,
  decrypt_error: 51,
  protocol_version: 70,
  missing_extension: 109,
  unsupported_extension: 110,
  no_application_protocol: 120,
};

function expectAlert(
  r: { error?: TransportError; by?: string },
  by: 'client' | 'server',
  alert: number,
): void {
  assert.ok(r.error, 'expected the handshake to fail');
  assert.equal(r.by, by, `failed at the ${r.by}: ${r.error.message}`);
  assert.equal(alertOfError(r.error), alert, r.error.message);
  assert.equal(r.error.code, 0x100 + alert);
}

/** Rebuilds a ClientHello (no PSK) after editing its extensions. */
function editClientHello(
  data: Uint8Array,
  edit: (exts: Extension[]) => Extension[],
  sessionId?: Uint8Array,
): Uint8Array {
  const ch = decodeClientHello(data.subarray(4));
  const msg = encodeClientHello({
    random: ch.random,
    cipherSuites: ch.cipherSuites,
    extensions: edit([...ch.extensions.items]),
  }).message;
  if (!sessionId) return msg;
  // Splice a legacy_session_id in (after version and random).
  const body = msg.subarray(4);
  const out = new Uint8Array(body.length + sessionId.length);
  out.set(body.subarray(0, 34));
  out[34] = sessionId.length;
  out.set(sessionId, 35);
  out.set(body.subarray(35), 35 + sessionId.length);
  return handshakeMessage(HandshakeType.ClientHello, out);
}

const onClientHello =
  (fn: (m: Uint8Array) => Uint8Array): Tamper =>
  (from, level, data) =>
    from === 'client' && level === Level.Initial ? fn(data) : data;

const onServerFlight =
  (type: number, fn: (m: Uint8Array) => Uint8Array): Tamper =>
  (from, level, data) =>
    from === 'server' && level === Level.Handshake ? rewriteMessage(data, type, fn) : data;

function editEncryptedExtensions(edit: (exts: Extension[]) => Extension[]): Tamper {
  return onServerFlight(HandshakeType.EncryptedExtensions, (m) =>
    encodeExtensionsMessage(
      HandshakeType.EncryptedExtensions,
      edit([...decodeEncryptedExtensions(m.subarray(4)).items]),
    ),
  );
}

describe('certificate failures (client side)', () => {
  test('wrong host name → bad_certificate (42)', () => {
    expectAlert(connect({ serverName: 'example.com' }), 'client', Alert.bad_certificate);
  });

  test('certificate for another host → bad_certificate (42)', () => {
    const r = connect(
      {},
      { certificateChain: chain('leaf-other-host'), privateKey: pem('leaf-other-host.key') },
    );
    expectAlert(r, 'client', Alert.bad_certificate);
  });

  test('wrong IP address → bad_certificate (42)', () => {
    expectAlert(connect({ serverName: '10.0.0.1' }), 'client', Alert.bad_certificate);
  });

  test('unknown CA → unknown_ca (48)', () => {
    const r = connect(
      {},
      { certificateChain: pem('leaf-unrelated.pem'), privateKey: pem('leaf-unrelated.key') },
    );
    expectAlert(r, 'client', Alert.unknown_ca);
    expectAlert(connect({ ca: pem('unrelated-ca.pem') }), 'client', Alert.unknown_ca);
  });

  test('missing intermediate → unknown_ca (48)', () => {
    const r = connect({}, { certificateChain: pem('leaf-p256.pem'), privateKey: pem('leaf-p256.key') });
    expectAlert(r, 'client', Alert.unknown_ca);
  });

  test('default root store does not trust the test CA → unknown_ca (48)', () => {
    const c = clientConfig();
    const { ca: _, ...noCa } = c;
    const client = createClientSession(noCa);
    const server = createServerSession(serverConfig());
    client.start();
    const ch = client.poll() as { data: Uint8Array };
    server.receive(Level.Initial, ch.data);
    const flights: { level: Level; data: Uint8Array }[] = [];
    for (let e = server.poll(); e; e = server.poll()) if (e.type === 'send') flights.push(e);
    assert.throws(
      () => {
        for (const f of flights) client.receive(f.level, f.data);
      },
      (e) => e instanceof TransportError && e.code === 0x100 + Alert.unknown_ca,
    );
  });

  test('expired certificate → certificate_expired (45)', () => {
    const r = connect({}, { certificateChain: chain('leaf-expired'), privateKey: pem('leaf-expired.key') });
    expectAlert(r, 'client', Alert.certificate_expired);
  });

  test('a clock past the validity period → certificate_expired (45)', () => {
    const client = createClientSession(clientConfig({ clock: () => Date.UTC(2200, 0, 1) }));
    const server = createServerSession(serverConfig());
    expectAlert(runPair(client, server), 'client', Alert.certificate_expired);
  });

  test('client certificate offered as server certificate → unsupported_certificate (43)', () => {
    const r = connect({}, { certificateChain: chain('client'), privateKey: pem('client.key') });
    expectAlert(r, 'client', Alert.unsupported_certificate);
  });

  test('tampered CertificateVerify signature → decrypt_error (51)', () => {
    const r = connect(
      {},
      {},
      {
        tamper: onServerFlight(HandshakeType.CertificateVerify, (m) => {
          const out = m.slice();
          out[out.length - 5]! ^= 0x40;
          return out;
        }),
      },
    );
    expectAlert(r, 'client', Alert.decrypt_error);
  });

  test('CertificateVerify with a scheme not offered → illegal_parameter (47)', () => {
    const r = connect(
      {},
      {},
      {
        tamper: onServerFlight(HandshakeType.CertificateVerify, (m) => {
          const out = m.slice();
          out[4] = 0x02; // 0x0203 ecdsa_sha1
          out[5] = 0x03;
          return out;
        }),
      },
    );
    expectAlert(r, 'client', Alert.illegal_parameter);
  });

  test('empty server Certificate → decode_error (50)', () => {
    const r = connect(
      {},
      {},
      {
        tamper: onServerFlight(HandshakeType.Certificate, () =>
          handshakeMessage(HandshakeType.Certificate, new Uint8Array(4)),
        ),
      },
    );
    expectAlert(r, 'client', Alert.decode_error);
  });

  test('garbage certificate → bad_certificate (42)', () => {
    const garbage = new Uint8Array([0, 0, 0, 9, 0, 0, 4, 0x30, 0x02, 0x05, 0x00, 0, 0]);
    const r = connect(
      {},
      {},
      {
        tamper: onServerFlight(HandshakeType.Certificate, () =>
          handshakeMessage(HandshakeType.Certificate, garbage),
        ),
      },
    );
    expectAlert(r, 'client', Alert.bad_certificate);
  });
});

describe('Finished', () => {
  test('wrong server Finished → decrypt_error (51) at the client', () => {
    const r = connect(
      {},
      {},
      {
        tamper: onServerFlight(HandshakeType.Finished, (m) => {
          const out = m.slice();
          out[10]! ^= 1;
          return out;
        }),
      },
    );
    expectAlert(r, 'client', Alert.decrypt_error);
  });

  test('wrong client Finished → decrypt_error (51) at the server', () => {
    const r = connect(
      {},
      {},
      {
        tamper: (from, level, data) => {
          if (from !== 'client' || level !== Level.Handshake) return data;
          const out = data.slice();
          out[out.length - 1]! ^= 1;
          return out;
        },
      },
    );
    expectAlert(r, 'server', Alert.decrypt_error);
  });

  test('Finished of the wrong length → decode_error (50)', () => {
    const r = connect(
      {},
      {},
      {
        tamper: onServerFlight(HandshakeType.Finished, () =>
          handshakeMessage(HandshakeType.Finished, new Uint8Array(31)),
        ),
      },
    );
    expectAlert(r, 'client', Alert.decode_error);
  });
});

function runPair(client: TlsSession, server: TlsSession) {
  client.start();
  for (let round = 0; round < 10; round++) {
    let moved = false;
    for (const [from, to, by] of [
      [client, server, 'server'],
      [server, client, 'client'],
    ] as const) {
      for (let e = from.poll(); e; e = from.poll()) {
        if (e.type !== 'send') continue;
        moved = true;
        try {
          to.receive(e.level, e.data);
        } catch (err) {
          if (err instanceof TransportError) return { error: err, by };
          throw err;
        }
      }
    }
    if (!moved) break;
  }
  return {};
}

describe('message order and framing', () => {
  test('Finished as the first message → unexpected_message (10)', () => {
    const server = createServerSession(serverConfig());
    const fin = handshakeMessage(HandshakeType.Finished, new Uint8Array(32));
    assert.throws(() => server.receive(Level.Initial, fin), { code: 0x100 + Alert.unexpected_message });
    const client = createClientSession(clientConfig());
    client.start();
    assert.throws(() => client.receive(Level.Initial, fin), { code: 0x100 + Alert.unexpected_message });
  });

  test('ServerHello at the Handshake level → unexpected_message (10)', () => {
    const r = connect(
      {},
      {},
      {
        tamper: (from, level, data) => {
          if (from === 'server' && level === Level.Handshake) {
            return handshakeMessage(HandshakeType.ServerHello, new Uint8Array(40));
          }
          return data;
        },
      },
    );
    expectAlert(r, 'client', Alert.unexpected_message);
  });

  test('skipping Certificate (CertificateVerify right after EncryptedExtensions) → unexpected_message (10)', () => {
    const r = connect(
      {},
      {},
      {
        tamper: (from, level, data) =>
          from === 'server' && level === Level.Handshake
            ? joinMessages(splitMessages(data).filter((m) => m[0] !== HandshakeType.Certificate))
            : data,
      },
    );
    expectAlert(r, 'client', Alert.unexpected_message);
  });

  test('EndOfEarlyData is never valid in QUIC → unexpected_message (10)', () => {
    const r = connect(
      {},
      {},
      {
        tamper: (from, level, data) =>
          from === 'client' && level === Level.Handshake
            ? new Uint8Array([HandshakeType.EndOfEarlyData, 0, 0, 0, ...data])
            : data,
      },
    );
    expectAlert(r, 'server', Alert.unexpected_message);
  });

  test('a ClientHello at the Initial level after the handshake → PROTOCOL_VIOLATION (RFC 9001 §4.1.3)', () => {
    const { client, server } = connect();
    const ch = client.sent[Level.Initial]![0]!;
    assert.throws(() => server.session.receive(Level.Initial, ch), {
      code: TransportErrorCode.PROTOCOL_VIOLATION,
    });
    assert.equal(client.session.handshakeComplete, true);
  });

  test('truncated message body → decode_error (50)', () => {
    const server = createServerSession(serverConfig());
    assert.throws(
      () =>
        server.receive(
          Level.Initial,
          handshakeMessage(HandshakeType.ClientHello, new Uint8Array([3, 3, 1, 2])),
        ),
      { code: 0x100 + Alert.decode_error },
    );
  });

  test('a message announcing more than the buffer limit → CRYPTO_BUFFER_EXCEEDED', () => {
    const server = createServerSession(serverConfig());
    assert.throws(() => server.receive(Level.Initial, new Uint8Array([1, 0x10, 0, 0])), {
      code: TransportErrorCode.CRYPTO_BUFFER_EXCEEDED,
    });
  });

  test('handshake data in 0-RTT → PROTOCOL_VIOLATION (RFC 9001 §8.3)', () => {
    const server = createServerSession(serverConfig());
    assert.throws(() => server.receive(Level.EarlyData, new Uint8Array([1])), {
      code: TransportErrorCode.PROTOCOL_VIOLATION,
    });
  });

  test('errors are sticky', () => {
    const server = createServerSession(serverConfig());
    const bad = handshakeMessage(HandshakeType.Finished, new Uint8Array(32));
    assert.throws(() => server.receive(Level.Initial, bad), { code: 0x10a });
    assert.throws(() => server.receive(Level.Initial, new Uint8Array(0)), { code: 0x10a });
  });

  test('trailing Initial data after the ServerHello → PROTOCOL_VIOLATION (RFC 9001 §4.1.3)', () => {
    const r = connect(
      {},
      {},
      {
        tamper: (from, level, data) =>
          from === 'server' && level === Level.Initial
            ? new Uint8Array([...data, HandshakeType.Finished])
            : data,
      },
    );
    assert.equal(r.by, 'client');
    assert.equal(r.error?.code, TransportErrorCode.PROTOCOL_VIOLATION);
  });
});

describe('negotiation failures', () => {
  test('no common ALPN → no_application_protocol (120) at the server', () => {
    expectAlert(connect({}, { alpnProtocols: ['hq-interop'] }), 'server', Alert.no_application_protocol);
    expectAlert(connect({}, { selectAlpn: () => undefined }), 'server', Alert.no_application_protocol);
  });

  test('no ALPN extension → no_application_protocol (120) at the server', () => {
    const r = connect(
      {},
      {},
      { tamper: onClientHello((m) => editClientHello(m, (e) => e.filter((x) => x.type !== 16))) },
    );
    expectAlert(r, 'server', Alert.no_application_protocol);
  });

  test('server selects a protocol not offered → no_application_protocol (120) at the client', () => {
    const r = connect(
      {},
      {},
      {
        tamper: editEncryptedExtensions((exts) =>
          exts.map((e) =>
            e.type === ExtensionType.Alpn ? { type: e.type, data: encodeAlpn(['other']) } : e,
          ),
        ),
      },
    );
    expectAlert(r, 'client', Alert.no_application_protocol);
  });

  test('EncryptedExtensions without ALPN → no_application_protocol (120)', () => {
    const r = connect(
      {},
      {},
      { tamper: editEncryptedExtensions((e) => e.filter((x) => x.type !== ExtensionType.Alpn)) },
    );
    expectAlert(r, 'client', Alert.no_application_protocol);
  });

  test('ClientHello without transport parameters → missing_extension (109)', () => {
    const r = connect(
      {},
      {},
      {
        tamper: onClientHello((m) =>
          editClientHello(m, (e) => e.filter((x) => x.type !== ExtensionType.QuicTransportParameters)),
        ),
      },
    );
    expectAlert(r, 'server', Alert.missing_extension);
  });

  test('EncryptedExtensions without transport parameters → missing_extension (109)', () => {
    const r = connect(
      {},
      {},
      {
        tamper: editEncryptedExtensions((e) =>
          e.filter((x) => x.type !== ExtensionType.QuicTransportParameters),
        ),
      },
    );
    expectAlert(r, 'client', Alert.missing_extension);
  });

  test('unsolicited extension in EncryptedExtensions → unsupported_extension (110)', () => {
    const r = connect(
      {},
      {},
      { tamper: editEncryptedExtensions((e) => [...e, { type: 0x1234, data: new Uint8Array(0) }]) },
    );
    expectAlert(r, 'client', Alert.unsupported_extension);
  });

  test('forbidden extension in EncryptedExtensions → illegal_parameter (47)', () => {
    const r = connect(
      {},
      {},
      {
        tamper: editEncryptedExtensions((e) => [
          ...e,
          { type: ExtensionType.KeyShare, data: new Uint8Array(0) },
        ]),
      },
    );
    expectAlert(r, 'client', Alert.illegal_parameter);
  });

  test('no common cipher suite → handshake_failure (40)', () => {
    expectAlert(
      connect({ cipherSuites: [0x1303] }, { cipherSuites: [0x1301] }),
      'server',
      Alert.handshake_failure,
    );
  });

  test('no common group → handshake_failure (40)', () => {
    expectAlert(
      connect({ groups: ['x25519'] }, { groups: ['secp256r1'] }),
      'server',
      Alert.handshake_failure,
    );
  });

  test('no TLS 1.3 in supported_versions → protocol_version (70)', () => {
    const r = connect(
      {},
      {},
      {
        tamper: onClientHello((m) =>
          editClientHello(m, (e) =>
            e.map((x) =>
              x.type === ExtensionType.SupportedVersions
                ? { type: x.type, data: new Uint8Array([2, 3, 3]) }
                : x,
            ),
          ),
        ),
      },
    );
    expectAlert(r, 'server', Alert.protocol_version);
  });

  test('ServerHello without supported_versions (TLS 1.2) → protocol_version (70)', () => {
    const r = connect(
      {},
      {},
      {
        tamper: (from, level, data) => {
          if (from !== 'server' || level !== Level.Initial) return data;
          const sh = decodeServerHello(data.subarray(4));
          return encodeServerHello({
            random: sh.random,
            sessionIdEcho: sh.sessionIdEcho,
            cipherSuite: sh.cipherSuite,
            extensions: sh.extensions.items.filter((e) => e.type !== ExtensionType.SupportedVersions),
          });
        },
      },
    );
    expectAlert(r, 'client', Alert.protocol_version);
  });

  test('duplicate extension → illegal_parameter (47)', () => {
    const r = connect(
      {},
      {},
      {
        tamper: onClientHello((m) =>
          editClientHello(m, (e) => [
            ...e,
            { type: 0x4444, data: new Uint8Array(0) },
            { type: 0x4444, data: new Uint8Array(0) },
          ]),
        ),
      },
    );
    expectAlert(r, 'server', Alert.illegal_parameter);
  });

  test('unknown extensions in the ClientHello are ignored', () => {
    const client = createClientSession(clientConfig());
    client.start();
    const ch = (client.poll() as { data: Uint8Array }).data;
    const server = createServerSession(serverConfig());
    server.receive(
      Level.Initial,
      editClientHello(ch, (e) => [{ type: 0x7777, data: new Uint8Array(5) }, ...e]),
    );
    const first = server.poll();
    assert.equal(first?.type, 'send');
    assert.equal((first as { data: Uint8Array }).data[0], HandshakeType.ServerHello);
  });

  test('non-empty legacy_session_id → PROTOCOL_VIOLATION (RFC 9001 §8.4)', () => {
    const r = connect(
      {},
      {},
      { tamper: onClientHello((m) => editClientHello(m, (e) => e, new Uint8Array(32))) },
    );
    assert.equal(r.by, 'server');
    assert.equal(r.error?.code, TransportErrorCode.PROTOCOL_VIOLATION);
  });

  test('compression methods other than [0] → illegal_parameter (47)', () => {
    const r = connect(
      {},
      {},
      {
        tamper: onClientHello((m) => {
          const ch = m.slice();
          // version(2) random(32) sid_len(1)=0 suites_len(2) suites(6) comp_len(1) comp(1)
          ch[4 + 2 + 32 + 1 + 2 + 6 + 1] = 1;
          return ch;
        }),
      },
    );
    expectAlert(r, 'server', Alert.illegal_parameter);
  });

  test('invalid X25519 key share (all zero) → illegal_parameter (47)', () => {
    const r = connect(
      {},
      {},
      {
        tamper: (from, level, data) => {
          if (from !== 'server' || level !== Level.Initial) return data;
          const sh = decodeServerHello(data.subarray(4));
          const w = new BufferWriter(64).u16(0x1d).u16(32).zeros(32);
          return encodeServerHello({
            random: sh.random,
            sessionIdEcho: sh.sessionIdEcho,
            cipherSuite: sh.cipherSuite,
            extensions: sh.extensions.items.map((e) =>
              e.type === ExtensionType.KeyShare ? { type: e.type, data: w.finish() } : e,
            ),
          });
        },
      },
    );
    expectAlert(r, 'client', Alert.illegal_parameter);
  });

  test('invalid P-256 point from the client → illegal_parameter (47)', () => {
    const r = connect(
      { groups: ['secp256r1'] },
      {},
      {
        tamper: onClientHello((m) =>
          editClientHello(m, (e) =>
            e.map((x) =>
              x.type === ExtensionType.KeyShare
                ? {
                    type: x.type,
                    data: new BufferWriter(80).u16(69).u16(0x17).u16(65).u8(4).zeros(64).finish(),
                  }
                : x,
            ),
          ),
        ),
      },
    );
    expectAlert(r, 'server', Alert.illegal_parameter);
  });

  test('ServerHello with a suite not offered → illegal_parameter (47)', () => {
    const r = connect(
      { cipherSuites: [0x1301] },
      {},
      {
        tamper: (from, level, data) => {
          if (from !== 'server' || level !== Level.Initial) return data;
          const out = data.slice();
          const sidLen = out[4 + 2 + 32]!;
          out[4 + 2 + 32 + 1 + sidLen + 1] = 0x02; // 0x1302
          return out;
        },
      },
    );
    expectAlert(r, 'client', Alert.illegal_parameter);
  });

  test('a second HelloRetryRequest → unexpected_message (10)', () => {
    let hrr: Uint8Array | undefined;
    const r = connect(
      { keyShareGroups: ['x25519'] },
      { groups: ['secp256r1'] },
      {
        tamper: (from, level, data) => {
          if (from !== 'server' || level !== Level.Initial) return data;
          if (!hrr) {
            hrr = data;
            return data;
          }
          return hrr; // replay the HRR instead of the ServerHello
        },
      },
    );
    expectAlert(r, 'client', Alert.unexpected_message);
  });

  test('HelloRetryRequest for a group the client already offered → illegal_parameter (47)', () => {
    const r = connect(
      { keyShareGroups: ['x25519'] },
      { groups: ['secp256r1'] },
      {
        tamper: (from, level, data) => {
          if (from !== 'server' || level !== Level.Initial) return data;
          const out = data.slice();
          out[out.length - 1] = 0x1d; // selected_group 0x0017 → 0x001d
          return out;
        },
      },
    );
    expectAlert(r, 'client', Alert.illegal_parameter);
  });

  test('second ClientHello that changes other fields → illegal_parameter (47)', () => {
    let count = 0;
    const r = connect(
      { keyShareGroups: ['x25519'] },
      { groups: ['secp256r1'] },
      {
        tamper: onClientHello((m) =>
          ++count === 2
            ? editClientHello(m, (e) =>
                e.map((x) =>
                  x.type === ExtensionType.Alpn ? { type: x.type, data: encodeAlpn(['h3', 'x']) } : x,
                ),
              )
            : m,
        ),
      },
    );
    expectAlert(r, 'server', Alert.illegal_parameter);
  });
});

describe('post-handshake (client)', () => {
  test('TLS KeyUpdate → unexpected_message (0x10a, RFC 9001 §6)', () => {
    const { client } = connect();
    assert.throws(() => client.session.receive(Level.Application, new Uint8Array([24, 0, 0, 1, 0])), {
      code: 0x10a,
    });
  });

  test('post-handshake CertificateRequest → PROTOCOL_VIOLATION (RFC 9001 §4.4)', () => {
    const { client } = connect();
    const cr = new Uint8Array([13, 0, 0, 11, 0, 0, 8, 0, 13, 0, 4, 0, 2, 4, 3]);
    assert.throws(() => client.session.receive(Level.Application, cr), {
      code: TransportErrorCode.PROTOCOL_VIOLATION,
    });
  });

  test('NewSessionTicket with max_early_data_size ≠ 0xffffffff → PROTOCOL_VIOLATION (RFC 9001 §4.6.1)', () => {
    const { client } = connect();
    const body = new BufferWriter(64)
      .u32(3600)
      .u32(1)
      .u8(1)
      .u8(0)
      .u16(4)
      .u32(0xabcdef01)
      .u16(8)
      .u16(ExtensionType.EarlyData)
      .u16(4)
      .u32(0x4000)
      .finish();
    assert.throws(
      () => client.session.receive(Level.Application, handshakeMessage(HandshakeType.NewSessionTicket, body)),
      {
        code: TransportErrorCode.PROTOCOL_VIOLATION,
      },
    );
  });

  test('NewSessionTicket with lifetime over 7 days → illegal_parameter (47)', () => {
    const { client } = connect();
    const body = new BufferWriter(64).u32(604_801).u32(1).u8(0).u16(4).u32(1).u16(0).finish();
    assert.throws(
      () => client.session.receive(Level.Application, handshakeMessage(HandshakeType.NewSessionTicket, body)),
      {
        code: 0x100 + Alert.illegal_parameter,
      },
    );
  });
});

test('the clock is only read through config.clock', () => {
  let reads = 0;
  const r = connect({
    clock: () => {
      reads++;
      return NOW;
    },
  });
  assert.equal(r.error, undefined);
  assert.ok(reads > 0);
});
