// Property tests: TLS message decoders and TLS sessions fed random or mutated bytes (corpus:
// messages captured from real in-memory handshakes and the draft trace vectors) throw nothing but
// TransportError.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { fromHex } from '../../src/common/bytes.js';
import { TransportError, TransportErrorCode } from '../../src/common/errors.js';
import { Level } from '../../src/common/levels.js';
import { ExtensionType, HandshakeType } from '../../src/tls/constants.js';
import {
  AntiReplay,
  createClientSession,
  createServerSession,
  type TlsClientConfig,
  type TlsServerConfig,
  type TlsSession,
} from '../../src/tls/index.js';
import {
  decodeAlpn,
  decodeCertificate,
  decodeCertificateRequest,
  decodeCertificateVerify,
  decodeClientHello,
  decodeClientKeyShares,
  decodeEncryptedExtensions,
  decodeMaxEarlyData,
  decodeNewSessionTicket,
  decodeOfferedPsks,
  decodeServerHello,
  decodeServerKeyShare,
  decodeServerName,
  decodeU8List,
  decodeU16List,
} from '../../src/tls/messages.js';
import {
  deserializeSessionTicket,
  type SessionTicket,
  serializeSessionTicket,
} from '../../src/tls/tickets.js';
import { checkDecoder } from '../support/property.js';
import {
  chain,
  clientConfig,
  connect,
  NOW,
  pem,
  pump,
  serverConfig,
  side,
  splitMessages,
  TICKET_KEY,
} from '../unit/tls/tls-helpers.js';
import { hrr, resumed, rtt1 } from '../unit/tls/trace-vectors.js';

// ---- Corpus: messages from real handshakes ----

const byType = new Map<number, Uint8Array[]>();
const clientFlights: Uint8Array[] = [];
let ticket: SessionTicket | undefined;

function collect(data: Uint8Array): void {
  for (const m of splitMessages(data)) {
    const list = byType.get(m[0]!) ?? [];
    list.push(m);
    byType.set(m[0]!, list);
  }
}

function record(c: Partial<TlsClientConfig>, s: Partial<TlsServerConfig>, tickets = false): void {
  const r = connect(c, s);
  assert.equal(r.error, undefined);
  if (tickets) {
    r.server.session.sendSessionTicket({ appData: new Uint8Array([1, 2, 3]) });
    pump(r.client, r.server);
    const ev = r.client.events.find((e) => e.type === 'session-ticket');
    if (ev?.type === 'session-ticket') ticket = ev.ticket;
  }
  for (const s2 of [r.client, r.server]) for (const level of s2.sent) for (const d of level) collect(d);
  for (const d of r.client.sent[Level.Initial]!) clientFlights.push(d);
}

const antiReplay = new AntiReplay({ startTime: NOW - 60_000 });
const resumable = { ticketKey: TICKET_KEY, maxEarlyData: true, antiReplay };
record({}, resumable, true);
record({ keyShareGroups: ['x25519'] }, { groups: ['secp256r1'] });
record(
  { certificateChain: chain('client'), privateKey: pem('client.key') },
  {
    requestClientCertificate: true,
    clientCa: pem('ca.pem'),
    certificateChain: chain('leaf-rsa'),
    privateKey: pem('leaf-rsa.key'),
  },
);
record({ session: ticket!, earlyData: true }, resumable);
record(
  { session: ticket!, earlyData: true, keyShareGroups: ['x25519'] },
  { ...resumable, groups: ['secp256r1'] },
);
for (const v of [
  rtt1.clientHello,
  rtt1.serverHello,
  rtt1.encryptedExtensions,
  rtt1.certificate,
  rtt1.newSessionTicket,
])
  collect(fromHex(v));
for (const v of [resumed.clientHello, resumed.serverHello, hrr.clientHello2, hrr.helloRetryRequest])
  collect(fromHex(v));

const bodies = (type: number): Uint8Array[] => (byType.get(type) ?? []).map((m) => m.subarray(4));

/** Decodes every known extension body of a list, as the engine would. */
function decodeExtensions(items: readonly { type: number; data: Uint8Array }[]): void {
  for (const e of items) {
    switch (e.type) {
      case ExtensionType.Alpn:
        decodeAlpn(e.data);
        break;
      case ExtensionType.ServerName:
        if (e.data.length > 0) decodeServerName(e.data);
        break;
      case ExtensionType.SupportedGroups:
      case ExtensionType.SignatureAlgorithms:
        decodeU16List(e.data, 2, 'list');
        break;
      case ExtensionType.PskKeyExchangeModes:
        decodeU8List(e.data, 'modes');
        break;
      case ExtensionType.EarlyData:
        if (e.data.length > 0) decodeMaxEarlyData(e.data);
        break;
    }
  }
}

describe('TLS message decoders (property)', () => {
  const decoders: [string, number, (b: Uint8Array) => unknown][] = [
    [
      'ClientHello',
      HandshakeType.ClientHello,
      (b) => {
        const ch = decodeClientHello(b);
        decodeExtensions(ch.extensions.items);
        const ks = ch.extensions.get(ExtensionType.KeyShare);
        if (ks) decodeClientKeyShares(ks);
        const psk = ch.extensions.get(ExtensionType.PreSharedKey);
        if (psk) decodeOfferedPsks(psk);
        const sv = ch.extensions.get(ExtensionType.SupportedVersions);
        if (sv) decodeU16List(sv, 1, 'versions');
        return ch;
      },
    ],
    [
      'ServerHello',
      HandshakeType.ServerHello,
      (b) => {
        const sh = decodeServerHello(b);
        const ks = sh.extensions.get(ExtensionType.KeyShare);
        if (ks && !sh.isHelloRetryRequest) decodeServerKeyShare(ks);
        return sh;
      },
    ],
    [
      'EncryptedExtensions',
      HandshakeType.EncryptedExtensions,
      (b) => {
        const ee = decodeEncryptedExtensions(b);
        decodeExtensions(ee.items);
        return ee;
      },
    ],
    ['Certificate', HandshakeType.Certificate, decodeCertificate],
    [
      'CertificateRequest',
      HandshakeType.CertificateRequest,
      (b) => {
        const cr = decodeCertificateRequest(b);
        decodeExtensions(cr.extensions.items);
        return cr;
      },
    ],
    ['CertificateVerify', HandshakeType.CertificateVerify, decodeCertificateVerify],
    [
      'NewSessionTicket',
      HandshakeType.NewSessionTicket,
      (b) => {
        const nst = decodeNewSessionTicket(b);
        decodeExtensions(nst.extensions.items);
        return nst;
      },
    ],
  ];
  for (const [name, type, decode] of decoders) {
    test(`${name}: 100k random/mutated inputs throw only TransportError`, () => {
      const corpus = bodies(type);
      assert.ok(corpus.length > 0, `corpus for ${name}`);
      for (const c of corpus) decode(c); // the corpus itself decodes
      const decoded = checkDecoder(name, decode, { corpus, maxLength: 96 });
      assert.ok(decoded > 1000, `${name}: only ${decoded} inputs decoded`);
    });
  }

  test('session ticket deserializer: 100k inputs throw only TransportError', () => {
    const t = serializeSessionTicket({ ...ticket!, appData: new Uint8Array([4, 5]) });
    const decoded = checkDecoder('SessionTicket', deserializeSessionTicket, {
      corpus: [t, serializeSessionTicket(ticket!)],
    });
    assert.ok(decoded > 100);
  });
});

describe('TLS sessions fed random/mutated CRYPTO data (property)', () => {
  const sConfig = serverConfig({ ...resumable, antiReplay: new AntiReplay({ startTime: NOW - 60_000 }) });

  function drain(s: TlsSession): void {
    while (s.poll());
  }

  /** Sessions wrap unexpected exceptions as INTERNAL_ERROR: surface those as failures. */
  function strict(fn: (input: Uint8Array) => unknown): (input: Uint8Array) => unknown {
    return (input) => {
      try {
        return fn(input);
      } catch (e) {
        if (e instanceof TransportError && e.code === TransportErrorCode.INTERNAL_ERROR) {
          throw new Error(`internal error: ${e.message}`);
        }
        throw e;
      }
    };
  }

  test('server: 100k mutated ClientHello flights at the Initial level', () => {
    const corpus = [...clientFlights, ...(byType.get(HandshakeType.ClientHello) ?? [])];
    let completed = 0;
    checkDecoder(
      'server session',
      strict((input) => {
        const s = createServerSession(sConfig);
        // Deliver in two pieces to exercise reassembly too.
        const cut = input.length >> 1;
        s.receive(Level.Initial, input.subarray(0, cut));
        s.receive(Level.Initial, input.subarray(cut));
        drain(s);
        completed++;
        return s;
      }),
      { corpus, maxLength: 64 },
    );
    assert.ok(completed > 1000, `only ${completed} ClientHellos were accepted`);
  });

  test('server: 10k mutated client Handshake flights after a valid ClientHello', () => {
    const cfg = clientConfig({ certificateChain: chain('client'), privateKey: pem('client.key') }, 41);
    const srv = serverConfig({ requestClientCertificate: true, clientCa: pem('ca.pem') }, 42);
    const client = side(createClientSession(cfg));
    const server = side(createServerSession(srv));
    client.session.start();
    pump(client, server);
    const ch = client.sent[Level.Initial]![0]!;
    const flight = client.sent[Level.Handshake]![0]!;
    assert.equal(server.session.handshakeComplete, true);
    checkDecoder(
      'server session (handshake level)',
      strict((input) => {
        const s = createServerSession(
          serverConfig({ requestClientCertificate: true, clientCa: pem('ca.pem') }, 42),
        );
        s.receive(Level.Initial, ch);
        drain(s);
        s.receive(Level.Handshake, input);
        drain(s);
        return s;
      }),
      { corpus: [flight, ...splitMessages(flight)], cases: 10_000, maxLength: 64 },
    );
  });

  test('client: 50k mutated server Initial flights after its ClientHello', () => {
    const corpus = (byType.get(HandshakeType.ServerHello) ?? []).slice();
    checkDecoder(
      'client session',
      strict((input) => {
        const c = createClientSession(clientConfig({}, 1));
        c.start();
        drain(c);
        c.receive(Level.Initial, input);
        drain(c);
        return c;
      }),
      { corpus, cases: 50_000, maxLength: 64 },
    );
  });

  test('client: 10k mutated server Handshake flights after a valid ServerHello', () => {
    const client = side(createClientSession(clientConfig({}, 51)));
    const server = side(createServerSession(serverConfig({}, 52)));
    client.session.start();
    pump(client, server);
    assert.equal(client.session.handshakeComplete, true);
    const sh = server.sent[Level.Initial]![0]!;
    const flight = server.sent[Level.Handshake]![0]!;
    checkDecoder(
      'client session (handshake level)',
      strict((input) => {
        const c = createClientSession(clientConfig({}, 51));
        c.start();
        c.receive(Level.Initial, sh);
        drain(c);
        c.receive(Level.Handshake, input);
        drain(c);
        return c;
      }),
      { corpus: [flight, ...splitMessages(flight)], cases: 10_000, maxLength: 64 },
    );
  });
});
