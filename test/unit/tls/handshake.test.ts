// In-memory client ↔ server handshakes: suites, groups, signature schemes, HelloRetryRequest,
// ALPN / transport parameters, secrets agreement, reassembly, key log.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { DEFAULT_CERTIFICATE_PEM, DEFAULT_PRIVATE_KEY_PEM } from '../../../src/cli/default-certificate.js';
import { hex } from '../../../src/common/bytes.js';
import { Level } from '../../../src/common/levels.js';
import { ExtensionType, HandshakeType, SignatureScheme } from '../../../src/tls/constants.js';
import { createClientSession, createServerSession, type TlsEvent } from '../../../src/tls/index.js';
import {
  decodeCertificateVerify,
  decodeClientHello,
  decodeServerHello,
  decodeServerKeyShare,
} from '../../../src/tls/messages.js';
import {
  CLIENT_TP,
  chain,
  clientConfig,
  connect,
  pem,
  pump,
  SERVER_TP,
  type Side,
  serverConfig,
  side,
  splitMessages,
} from './tls-helpers.js';

/** Both sides completed and derived identical secrets at Handshake and Application levels. */
function assertEstablished(client: Side, server: Side): void {
  assert.equal(client.session.handshakeComplete, true);
  assert.equal(server.session.handshakeComplete, true);
  for (const level of [Level.Handshake, Level.Application]) {
    const cw = client.secrets.get(`${level}-write`);
    const sr = server.secrets.get(`${level}-read`);
    const sw = server.secrets.get(`${level}-write`);
    const cr = client.secrets.get(`${level}-read`);
    assert.ok(cw && sr && sw && cr, `secrets at level ${level}`);
    assert.equal(hex(cw), hex(sr));
    assert.equal(hex(sw), hex(cr));
    assert.notEqual(hex(cw), hex(cr));
  }
  assert.equal(client.events.filter((e) => e.type === 'handshake-complete').length, 1);
  assert.equal(server.events.filter((e) => e.type === 'handshake-complete').length, 1);
}

function serverFlightMessages(server: Side): Uint8Array[] {
  return server.sent[Level.Handshake]!.flatMap((d) => splitMessages(d));
}

describe('full handshake', () => {
  test('exchanges ALPN and transport parameters and agrees on secrets', () => {
    const { client, server, error } = connect();
    assert.equal(error, undefined);
    assertEstablished(client, server);
    assert.equal(client.session.alpn, 'h3');
    assert.equal(server.session.alpn, 'h3');
    assert.deepEqual(client.session.peerTransportParameters, SERVER_TP);
    assert.deepEqual(server.session.peerTransportParameters, CLIENT_TP);
    assert.equal(client.session.cipherSuite, 0x1301);
    assert.equal(server.session.cipherSuite, 0x1301);
    assert.equal(client.session.resumed, false);
    assert.equal(server.session.resumed, false);
    assert.equal(client.session.earlyDataAccepted, undefined);
    assert.equal(server.session.serverName, 'localhost');
    assert.equal(client.session.peerCertificates.length, 2);
    assert.match(client.session.peerCertificates[0]!.subject, /CN=localhost/);
    assert.equal(server.session.peerCertificates.length, 0);
    // Client: Initial ClientHello, then Finished at Handshake; server: ServerHello, then its flight.
    assert.equal(client.sent[Level.Initial]!.length, 1);
    assert.equal(client.sent[Level.Handshake]!.length, 1);
    assert.deepEqual(
      splitMessages(client.sent[Level.Handshake]![0]!).map((m) => m[0]),
      [HandshakeType.Finished],
    );
    assert.deepEqual(
      serverFlightMessages(server).map((m) => m[0]),
      [
        HandshakeType.EncryptedExtensions,
        HandshakeType.Certificate,
        HandshakeType.CertificateVerify,
        HandshakeType.Finished,
      ],
    );
  });

  test('the ClientHello has an empty legacy_session_id and no ChangeCipherSpec follows (RFC 9001 §8.4)', () => {
    const { client } = connect();
    const ch = decodeClientHello(client.sent[Level.Initial]![0]!.subarray(4));
    assert.equal(ch.sessionId.length, 0);
    assert.deepEqual(ch.extensions.get(ExtensionType.QuicTransportParameters), CLIENT_TP);
    assert.equal(ch.extensions.has(ExtensionType.PreSharedKey), false);
    // Only handshake messages are produced: ClientHello, then Finished (no CCS, no EndOfEarlyData).
    const types = client.sent.flatMap((datas) => datas.flatMap((d) => splitMessages(d).map((m) => m[0])));
    assert.deepEqual(types, [HandshakeType.ClientHello, HandshakeType.Finished]);
  });

  for (const suite of [0x1301, 0x1302, 0x1303] as const) {
    test(`cipher suite 0x${suite.toString(16)}`, () => {
      const { client, server, error } = connect({}, { cipherSuites: [suite] });
      assert.equal(error, undefined);
      assertEstablished(client, server);
      assert.equal(client.session.cipherSuite, suite);
      const secret = client.secrets.get(`${Level.Application}-write`)!;
      assert.equal(secret.length, suite === 0x1302 ? 48 : 32);
      const ev = client.events.find((e) => e.type === 'secret') as Extract<TlsEvent, { type: 'secret' }>;
      assert.equal(ev.suite, suite);
    });
  }

  test('server preference decides the suite', () => {
    const { client } = connect(
      { cipherSuites: [0x1301, 0x1302, 0x1303] },
      { cipherSuites: [0x1303, 0x1301] },
    );
    assert.equal(client.session.cipherSuite, 0x1303);
  });

  for (const group of ['x25519', 'secp256r1'] as const) {
    test(`group ${group} without HelloRetryRequest`, () => {
      const { client, server, error } = connect({ groups: [group] });
      assert.equal(error, undefined);
      assertEstablished(client, server);
      assert.equal(client.sent[Level.Initial]!.length, 1);
      const sh = decodeServerHello(server.sent[Level.Initial]![0]!.subarray(4));
      const ks = decodeServerKeyShare(sh.extensions.get(ExtensionType.KeyShare)!);
      assert.equal(ks.group, group === 'x25519' ? 0x1d : 0x17);
      assert.equal(ks.key.length, group === 'x25519' ? 32 : 65);
    });
  }

  const schemes: [string, string, number][] = [
    ['leaf-p256', 'ecdsa_secp256r1_sha256', SignatureScheme.ecdsa_secp256r1_sha256],
    ['leaf-p384', 'ecdsa_secp384r1_sha384', SignatureScheme.ecdsa_secp384r1_sha384],
    ['leaf-ed25519', 'ed25519', SignatureScheme.ed25519],
    ['leaf-rsa', 'rsa_pss_rsae_sha256', SignatureScheme.rsa_pss_rsae_sha256],
    ['leaf-rsa', 'rsa_pss_rsae_sha384', SignatureScheme.rsa_pss_rsae_sha384],
    ['leaf-rsa', 'rsa_pss_rsae_sha512', SignatureScheme.rsa_pss_rsae_sha512],
    ['leaf-rsa-pss', 'rsa_pss_pss_sha256', SignatureScheme.rsa_pss_pss_sha256],
    ['leaf-rsa-pss', 'rsa_pss_pss_sha384', SignatureScheme.rsa_pss_pss_sha384],
    ['leaf-rsa-pss', 'rsa_pss_pss_sha512', SignatureScheme.rsa_pss_pss_sha512],
  ];
  for (const [leaf, name, scheme] of schemes) {
    test(`signature scheme ${name} (${leaf})`, () => {
      const { client, server, error } = connect(
        { signatureSchemes: [scheme] },
        { certificateChain: chain(leaf), privateKey: pem(`${leaf}.key`) },
      );
      assert.equal(error, undefined);
      assertEstablished(client, server);
      const cv = serverFlightMessages(server).find((m) => m[0] === HandshakeType.CertificateVerify)!;
      assert.equal(decodeCertificateVerify(cv.subarray(4)).scheme, scheme);
    });
  }

  test('a key without a scheme the client accepts → handshake_failure', () => {
    const { error, by } = connect(
      { signatureSchemes: [SignatureScheme.ed25519] },
      { certificateChain: chain('leaf-p256'), privateKey: pem('leaf-p256.key') },
    );
    assert.equal(by, 'server');
    assert.equal(error?.code, 0x100 + 40);
  });
});

describe('HelloRetryRequest', () => {
  test('client share misses the server groups: HRR, second ClientHello, handshake', () => {
    const { client, server, error } = connect({ keyShareGroups: ['x25519'] }, { groups: ['secp256r1'] });
    assert.equal(error, undefined);
    assertEstablished(client, server);
    assert.equal(client.sent[Level.Initial]!.length, 2);
    assert.equal(server.sent[Level.Initial]!.length, 2);
    const hrr = decodeServerHello(server.sent[Level.Initial]![0]!.subarray(4));
    assert.equal(hrr.isHelloRetryRequest, true);
    assert.deepEqual(Array.from(hrr.extensions.get(ExtensionType.KeyShare)!), [0x00, 0x17]);
    const ch1 = decodeClientHello(client.sent[Level.Initial]![0]!.subarray(4));
    const ch2 = decodeClientHello(client.sent[Level.Initial]![1]!.subarray(4));
    assert.deepEqual(ch1.random, ch2.random);
    assert.notDeepEqual(
      ch1.extensions.get(ExtensionType.KeyShare),
      ch2.extensions.get(ExtensionType.KeyShare),
    );
    const sh = decodeServerHello(server.sent[Level.Initial]![1]!.subarray(4));
    assert.equal(decodeServerKeyShare(sh.extensions.get(ExtensionType.KeyShare)!).group, 0x17);
  });

  test('HRR with SHA-384 suite and P-256 client preference', () => {
    const { client, server, error } = connect(
      { keyShareGroups: ['x25519'], groups: ['x25519', 'secp256r1'] },
      { groups: ['secp256r1'], cipherSuites: [0x1302] },
    );
    assert.equal(error, undefined);
    assertEstablished(client, server);
    assert.equal(client.session.cipherSuite, 0x1302);
  });

  test('no HelloRetryRequest when a share matches a less preferred server group', () => {
    const { client, error } = connect({ keyShareGroups: ['x25519'] }, { groups: ['secp256r1', 'x25519'] });
    assert.equal(error, undefined);
    assert.equal(client.sent[Level.Initial]!.length, 1);
  });
});

describe('delivery and plumbing', () => {
  test('messages split into 1-octet pieces and coalesced flights reassemble', () => {
    const { client, server, error } = connect({}, {}, { chunk: 1 });
    assert.equal(error, undefined);
    assertEstablished(client, server);
  });

  test('deterministic with seeded randomness', () => {
    const a = connect();
    const b = connect();
    assert.deepEqual(a.client.sent[Level.Initial], b.client.sent[Level.Initial]);
    assert.equal(
      hex(a.client.secrets.get(`${Level.Handshake}-write`)!),
      hex(b.client.secrets.get(`${Level.Handshake}-write`)!),
    );
  });

  test('server: 1-RTT write secret after its flight, read secret only after the client Finished', () => {
    const client = side(createClientSession(clientConfig()));
    const server = side(createServerSession(serverConfig()));
    client.session.start();
    const ch = client.session.poll()!;
    assert.equal(ch.type, 'send');
    server.session.receive(Level.Initial, (ch as { data: Uint8Array }).data);
    const evs: TlsEvent[] = [];
    for (let e = server.session.poll(); e; e = server.session.poll()) evs.push(e);
    const appSecrets = evs.filter((e) => e.type === 'secret' && e.level === Level.Application);
    assert.deepEqual(
      appSecrets.map((e) => (e as { direction: string }).direction),
      ['write'],
    );
    assert.equal(server.session.handshakeComplete, false);
  });

  test('key log lines match on both sides (NSS format)', () => {
    const clientLines: string[] = [];
    const serverLines: string[] = [];
    const { client } = connect(
      { keyLog: (l) => clientLines.push(l) },
      { keyLog: (l) => serverLines.push(l) },
    );
    assert.deepEqual(
      clientLines.map((l) => l.split(' ')[0]),
      [
        'CLIENT_HANDSHAKE_TRAFFIC_SECRET',
        'SERVER_HANDSHAKE_TRAFFIC_SECRET',
        'CLIENT_TRAFFIC_SECRET_0',
        'SERVER_TRAFFIC_SECRET_0',
      ],
    );
    assert.deepEqual([...clientLines].sort(), [...serverLines].sort());
    const random = hex(decodeClientHello(client.sent[Level.Initial]![0]!.subarray(4)).random);
    for (const l of clientLines) assert.match(l, new RegExp(`^[A-Z_0]+ ${random} [0-9a-f]{64}$`));
    assert.ok(clientLines[2]!.endsWith(hex(client.secrets.get(`${Level.Application}-write`)!)));
  });

  for (const ip of ['127.0.0.1', '::1']) {
    test(`IP literal ${ip}: no SNI, certificate checked with checkIP`, () => {
      const { client, server, error } = connect({ serverName: ip });
      assert.equal(error, undefined);
      assertEstablished(client, server);
      assert.equal(server.session.serverName, undefined);
      const ch = decodeClientHello(client.sent[Level.Initial]![0]!.subarray(4));
      assert.equal(ch.extensions.has(ExtensionType.ServerName), false);
    });
  }

  test('verifyPeer: false accepts an unknown CA and a wrong name', () => {
    const { error } = connect(
      { verifyPeer: false, serverName: 'not-the-host.example' },
      { certificateChain: pem('leaf-unrelated.pem'), privateKey: pem('leaf-unrelated.key') },
    );
    assert.equal(error, undefined);
  });

  test('the embedded default certificate works as its own trust anchor', () => {
    const { client, server, error } = connect(
      { ca: DEFAULT_CERTIFICATE_PEM },
      { certificateChain: DEFAULT_CERTIFICATE_PEM, privateKey: DEFAULT_PRIVATE_KEY_PEM },
    );
    assert.equal(error, undefined);
    assertEstablished(client, server);
    assert.equal(client.session.peerCertificates.length, 1);
  });

  test('selectAlpn chooses from the offered list', () => {
    let offered: readonly string[] = [];
    const { client, error } = connect(
      { alpnProtocols: ['h3', 'hq-interop'] },
      {
        alpnProtocols: ['never-used'],
        selectAlpn: (o: readonly string[]) => {
          offered = o;
          return 'hq-interop';
        },
      },
    );
    assert.equal(error, undefined);
    assert.deepEqual(offered, ['h3', 'hq-interop']);
    assert.equal(client.session.alpn, 'hq-interop');
  });

  test('after completion, handshake messages to the server are unexpected_message', () => {
    const { client, server } = connect();
    assert.throws(
      () => server.session.receive(Level.Application, new Uint8Array([20, 0, 0, 32, ...new Uint8Array(32)])),
      { code: 0x100 + 10 },
    );
    assert.equal(client.session.handshakeComplete, true);
    pump(client, server);
  });
});
