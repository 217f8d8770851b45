// Session tickets, PSK resumption (RFC 8446 §4.2.11, §4.6.1), 0-RTT (RFC 9001 §4.6) and anti-replay (RFC 8446 §8).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { hex } from '../../../src/common/bytes.js';
import { TransportError } from '../../../src/common/errors.js';
import { Level } from '../../../src/common/levels.js';
import { SeededRandom } from '../../../src/common/random.js';
import { ExtensionType, HandshakeType } from '../../../src/tls/constants.js';
import {
  AntiReplay,
  createClientSession,
  createServerSession,
  deserializeSessionTicket,
  type SessionTicket,
  serializeSessionTicket,
  type TlsClientConfig,
  type TlsServerConfig,
} from '../../../src/tls/index.js';
import { decodeClientHello, decodeNewSessionTicket } from '../../../src/tls/messages.js';
import { openTicket, sealTicket } from '../../../src/tls/tickets.js';
import {
  type Clock,
  clientConfig,
  NOW,
  pump,
  serverConfig,
  side,
  splitMessages,
  TICKET_KEY,
} from './tls-helpers.js';

interface World {
  clock: Clock;
  antiReplay: AntiReplay;
  server: Partial<TlsServerConfig>;
}

function world(server: Partial<TlsServerConfig> = {}): World {
  const clock = { now: NOW };
  const antiReplay = new AntiReplay({ startTime: NOW - 60_000 });
  return { clock, antiReplay, server: { ticketKey: TICKET_KEY, maxEarlyData: true, antiReplay, ...server } };
}

let seed = 100;
function run(w: World, c: Partial<TlsClientConfig> = {}, s: Partial<TlsServerConfig> = {}) {
  const client = side(createClientSession(clientConfig(c, seed++, w.clock)));
  const server = side(createServerSession(serverConfig({ ...w.server, ...s }, seed++, w.clock)));
  client.session.start();
  const r = pump(client, server);
  return { client, server, ...r };
}

/** A full handshake that yields a ticket (server appData `app`). */
function obtainTicket(w: World, c: Partial<TlsClientConfig> = {}, app?: Uint8Array): SessionTicket {
  const { client, server, error } = run(w, c);
  assert.equal(error, undefined);
  server.session.sendSessionTicket(app ? { appData: app } : {});
  pump(client, server);
  const ev = client.events.find((e) => e.type === 'session-ticket');
  assert.ok(ev && ev.type === 'session-ticket');
  return ev.ticket;
}

describe('session tickets', () => {
  test('NewSessionTicket at the application level with early_data 0xffffffff (RFC 9001 §4.6.1)', () => {
    const w = world();
    const { client, server } = run(w);
    server.session.sendSessionTicket();
    pump(client, server);
    const sent = server.sent[Level.Application]!;
    assert.equal(sent.length, 1);
    const [msg] = splitMessages(sent[0]!);
    assert.equal(msg![0], HandshakeType.NewSessionTicket);
    const nst = decodeNewSessionTicket(msg!.subarray(4));
    assert.equal(nst.lifetime, 86_400);
    assert.deepEqual(Array.from(nst.extensions.get(ExtensionType.EarlyData)!), [0xff, 0xff, 0xff, 0xff]);
    const ticket = (client.events.find((e) => e.type === 'session-ticket') as { ticket: SessionTicket })
      .ticket;
    assert.equal(ticket.earlyData, true);
    assert.equal(ticket.alpn, 'h3');
    assert.equal(ticket.cipherSuite, 0x1301);
    assert.equal(ticket.serverName, 'localhost');
    assert.equal(ticket.receivedAt, NOW);
    assert.equal(ticket.psk.length, 32);
  });

  test('without maxEarlyData the ticket carries no early_data', () => {
    const w = world({ maxEarlyData: false });
    assert.equal(obtainTicket(w).earlyData, false);
  });

  test('without ticketKey no ticket is sent; before completion it is a usage error', () => {
    const w = world({ maxEarlyData: false });
    const { ticketKey: _, ...noKey } = w.server;
    w.server = noKey;
    const { client, server } = run(w);
    server.session.sendSessionTicket();
    pump(client, server);
    assert.equal(server.sent[Level.Application]!.length, 0);
    assert.equal(client.session.handshakeComplete, true);
    const fresh = createServerSession(serverConfig({ ticketKey: TICKET_KEY }));
    assert.throws(() => fresh.sendSessionTicket(), /after the handshake/);
  });

  test('two tickets from one connection have distinct PSKs', () => {
    const w = world();
    const { client, server } = run(w);
    server.session.sendSessionTicket();
    server.session.sendSessionTicket();
    pump(client, server);
    const t = client.events.filter((e) => e.type === 'session-ticket') as { ticket: SessionTicket }[];
    assert.equal(t.length, 2);
    assert.notEqual(hex(t[0]!.ticket.psk), hex(t[1]!.ticket.psk));
  });

  test('serialize / deserialize round trip (with appData)', () => {
    const t = obtainTicket(world());
    t.appData = new Uint8Array([9, 8, 7]);
    const back = deserializeSessionTicket(serializeSessionTicket(t));
    assert.deepEqual(back, t);
    const noApp = obtainTicket(world({ maxEarlyData: false }));
    assert.deepEqual(deserializeSessionTicket(serializeSessionTicket(noApp)), noApp);
  });

  test('deserialize rejects garbage with a decode_error TransportError', () => {
    const bytes = serializeSessionTicket(obtainTicket(world()));
    for (const bad of [new Uint8Array(0), bytes.subarray(0, 20), new Uint8Array([2, ...bytes.subarray(1)])]) {
      assert.throws(
        () => deserializeSessionTicket(bad),
        (e) => e instanceof TransportError && e.code === 0x132,
      );
    }
  });

  test('sealed tickets open only with the right key and are tamper-evident', () => {
    const rng = new SeededRandom(5);
    const state = {
      cipherSuite: 0x1302 as const,
      psk: new Uint8Array(48).fill(1),
      ageAdd: 0xdeadbeef,
      createdAt: NOW,
      lifetime: 3600,
      alpn: 'h3',
      earlyData: true,
      appData: new Uint8Array([1, 2]),
    };
    const sealed = sealTicket(TICKET_KEY, state, rng);
    assert.deepEqual(openTicket(TICKET_KEY, sealed), state);
    assert.equal(openTicket(new Uint8Array(32), sealed), undefined);
    const bad = sealed.slice();
    bad[20]! ^= 1;
    assert.equal(openTicket(TICKET_KEY, bad), undefined);
  });
});

describe('PSK resumption', () => {
  test('resumed handshake: no certificate, psk_dhe_ke, secrets agree', () => {
    const w = world({ maxEarlyData: false });
    const ticket = obtainTicket(w);
    w.clock.now += 5000;
    const { client, server, error } = run(w, { session: ticket });
    assert.equal(error, undefined);
    assert.equal(client.session.resumed, true);
    assert.equal(server.session.resumed, true);
    assert.equal(client.session.handshakeComplete, true);
    assert.equal(server.session.handshakeComplete, true);
    assert.equal(client.session.peerCertificates.length, 0);
    const types = server.sent[Level.Handshake]!.flatMap((d) => splitMessages(d).map((m) => m[0]));
    assert.deepEqual(types, [HandshakeType.EncryptedExtensions, HandshakeType.Finished]);
    for (const k of [`${Level.Handshake}-write`, `${Level.Application}-write`]) {
      const other = k.replace('write', 'read');
      assert.equal(hex(client.secrets.get(k)!), hex(server.secrets.get(other)!));
    }
    const ch = decodeClientHello(client.sent[Level.Initial]![0]!.subarray(4));
    assert.equal(ch.extensions.last, ExtensionType.PreSharedKey);
    assert.equal(ch.extensions.has(ExtensionType.EarlyData), false);
    assert.equal(client.session.earlyDataAccepted, undefined);
    // A resumed connection issues tickets too.
    server.session.sendSessionTicket();
    pump(client, server);
    assert.ok(client.events.some((e) => e.type === 'session-ticket'));
  });

  test('SHA-384 suite resumes', () => {
    const w = world({ maxEarlyData: false, cipherSuites: [0x1302] });
    const ticket = obtainTicket(w);
    assert.equal(ticket.psk.length, 48);
    const { client, error } = run(w, { session: ticket });
    assert.equal(error, undefined);
    assert.equal(client.session.resumed, true);
    assert.equal(client.session.cipherSuite, 0x1302);
  });

  test('expired ticket is not offered (client) and full handshake follows', () => {
    const w = world({ maxEarlyData: false, ticketLifetime: 10 });
    const ticket = obtainTicket(w);
    w.clock.now += 11_000;
    const { client, error } = run(w, { session: ticket });
    assert.equal(error, undefined);
    assert.equal(client.session.resumed, false);
    const ch = decodeClientHello(client.sent[Level.Initial]![0]!.subarray(4));
    assert.equal(ch.extensions.has(ExtensionType.PreSharedKey), false);
  });

  test('ticket for another server name is not offered', () => {
    const w = world({ maxEarlyData: false });
    const ticket = obtainTicket(w);
    const { client } = run(w, { session: ticket, serverName: '127.0.0.1' });
    assert.equal(client.session.resumed, false);
  });

  test('a server with another ticket key ignores the PSK and 0-RTT', () => {
    const w = world();
    const ticket = obtainTicket(w);
    const { client, server, error } = run(
      w,
      { session: ticket, earlyData: true },
      { ticketKey: new Uint8Array(32) },
    );
    assert.equal(error, undefined);
    assert.equal(client.session.resumed, false);
    assert.equal(server.session.resumed, false);
    assert.equal(client.session.earlyDataAccepted, false);
    assert.equal(server.session.earlyDataAccepted, false);
    assert.equal(client.session.peerCertificates.length, 2);
  });

  test('tampered binder → decrypt_error', () => {
    const w = world({ maxEarlyData: false });
    const ticket = obtainTicket(w);
    const client = side(createClientSession(clientConfig({ session: ticket }, 77, w.clock)));
    const server = side(createServerSession(serverConfig(w.server, 78, w.clock)));
    client.session.start();
    const r = pump(client, server, {
      tamper: (from, level, data) => {
        if (from !== 'client' || level !== Level.Initial) return data;
        const out = data.slice();
        out[out.length - 1]! ^= 0x01; // last octet of the binder
        return out;
      },
    });
    assert.equal(r.by, 'server');
    assert.equal(r.error?.code, 0x100 + 51);
  });

  test('HelloRetryRequest during resumption: PSK re-offered with a new binder, 0-RTT rejected', () => {
    const w = world();
    const ticket = obtainTicket(w);
    const { client, server, error } = run(
      w,
      { session: ticket, earlyData: true, keyShareGroups: ['x25519'] },
      { groups: ['secp256r1'] },
    );
    assert.equal(error, undefined);
    assert.equal(client.sent[Level.Initial]!.length, 2);
    assert.equal(client.session.resumed, true);
    assert.equal(server.session.resumed, true);
    assert.equal(client.session.earlyDataAccepted, false);
    assert.equal(server.session.earlyDataAccepted, false);
    const ch2 = decodeClientHello(client.sent[Level.Initial]![1]!.subarray(4));
    assert.equal(ch2.extensions.has(ExtensionType.EarlyData), false);
    assert.equal(ch2.extensions.last, ExtensionType.PreSharedKey);
    // The client installed 0-RTT keys at start, the server never does.
    assert.ok(client.secrets.has(`${Level.EarlyData}-write`));
    assert.equal(server.secrets.has(`${Level.EarlyData}-read`), false);
  });
});

describe('0-RTT', () => {
  test('accepted: early secrets agree, both report acceptance', () => {
    const w = world();
    const app = new Uint8Array([0xaa, 0xbb]);
    let seen: Uint8Array | undefined;
    const ticket = obtainTicket(w, {}, app);
    w.clock.now += 2000;
    const keyLog: string[] = [];
    const { client, server, error } = run(
      w,
      { session: ticket, earlyData: true, keyLog: (l) => keyLog.push(l) },
      {
        acceptEarlyData: (a) => {
          seen = a;
          return true;
        },
      },
    );
    assert.equal(error, undefined);
    assert.deepEqual(seen, app);
    // Client: ClientHello, then 0-RTT write secret right away (RFC 9001 §4.1.4).
    assert.deepEqual(
      client.events.slice(0, 2).map((e) => e.type),
      ['send', 'secret'],
    );
    const cw = client.secrets.get(`${Level.EarlyData}-write`)!;
    const sr = server.secrets.get(`${Level.EarlyData}-read`)!;
    assert.equal(hex(cw), hex(sr));
    assert.equal(client.session.earlyDataAccepted, true);
    assert.equal(server.session.earlyDataAccepted, true);
    assert.deepEqual(
      client.events.filter((e) => e.type === 'early-data'),
      [{ type: 'early-data', accepted: true }],
    );
    assert.deepEqual(
      server.events.filter((e) => e.type === 'early-data'),
      [{ type: 'early-data', accepted: true }],
    );
    assert.equal(client.session.resumed, true);
    assert.equal(keyLog[0]!.split(' ')[0], 'CLIENT_EARLY_TRAFFIC_SECRET');
    // No EndOfEarlyData in QUIC (RFC 9001 §8.3).
    const types = client.sent[Level.Handshake]!.flatMap((d) => splitMessages(d).map((m) => m[0]));
    assert.deepEqual(types, [HandshakeType.Finished]);
  });

  test('rejected on replay of the same ticket (anti-replay strike register)', () => {
    const w = world();
    const ticket = obtainTicket(w);
    const first = run(w, { session: ticket, earlyData: true });
    assert.equal(first.server.session.earlyDataAccepted, true);
    const second = run(w, { session: ticket, earlyData: true });
    assert.equal(second.error, undefined);
    assert.equal(second.server.session.earlyDataAccepted, false);
    assert.equal(second.client.session.earlyDataAccepted, false);
    assert.deepEqual(
      second.client.events.filter((e) => e.type === 'early-data'),
      [{ type: 'early-data', accepted: false }],
    );
    // Falls back to 1-RTT with the PSK.
    assert.equal(second.client.session.resumed, true);
    assert.equal(second.client.session.handshakeComplete, true);
    assert.equal(second.server.secrets.has(`${Level.EarlyData}-read`), false);
  });

  test('rejected when the server has early data disabled', () => {
    const w = world();
    const ticket = obtainTicket(w);
    const { client, server, error } = run(w, { session: ticket, earlyData: true }, { maxEarlyData: false });
    assert.equal(error, undefined);
    assert.equal(client.session.earlyDataAccepted, false);
    assert.equal(server.session.earlyDataAccepted, false);
    assert.equal(client.session.resumed, true);
  });

  test('rejected by the QUIC layer veto (acceptEarlyData)', () => {
    const w = world();
    const ticket = obtainTicket(w);
    const { client } = run(w, { session: ticket, earlyData: true }, { acceptEarlyData: () => false });
    assert.equal(client.session.earlyDataAccepted, false);
  });

  test('rejected outside the freshness window', () => {
    const w = world();
    const ticket = obtainTicket(w);
    // The client believes the ticket is 30 s younger than the server does.
    const clientClock = { now: w.clock.now };
    w.clock.now += 30_000;
    const client = side(
      createClientSession(clientConfig({ session: ticket, earlyData: true }, 90, clientClock)),
    );
    const server = side(createServerSession(serverConfig(w.server, 91, w.clock)));
    client.session.start();
    pump(client, server);
    assert.equal(server.session.earlyDataAccepted, false);
    assert.equal(client.session.resumed, true);
  });

  test('not attempted when the ticket does not allow it or earlyData is off', () => {
    const w = world({ maxEarlyData: false });
    const ticket = obtainTicket(w);
    const { client, server } = run(w, { session: ticket, earlyData: true }, { maxEarlyData: true });
    assert.equal(client.session.earlyDataAccepted, undefined);
    assert.equal(server.session.earlyDataAccepted, undefined);
    assert.equal(client.secrets.has(`${Level.EarlyData}-write`), false);
    const w2 = world();
    const t2 = obtainTicket(w2);
    const r = run(w2, { session: t2 });
    assert.equal(r.client.session.earlyDataAccepted, undefined);
    assert.equal(r.client.session.resumed, true);
  });
});

describe('AntiReplay', () => {
  test('accepts a ticket once; rejects stale, future and pre-start tickets', () => {
    const ar = new AntiReplay({ startTime: 1_000_000, windowMs: 10_000 });
    assert.equal(ar.check('a', 1_000_000, 5000, 1_005_000), true);
    assert.equal(ar.check('a', 1_000_000, 5000, 1_005_000), false);
    assert.equal(ar.check('b', 1_000_000, 5000, 1_020_000), false); // arrives 15 s late
    assert.equal(ar.check('c', 1_000_000, 30_000, 1_005_000), false); // claims to be from the future
    // Issued before the register started, window overlapping the start.
    assert.equal(ar.check('d', 999_000, 2000, 1_001_000), false);
    // Issued before the start but arriving long after it: fine.
    assert.equal(ar.check('e', 900_000, 200_000, 1_100_000), true);
  });

  test('is bounded: expired entries are evicted, a full register refuses', () => {
    const ar = new AntiReplay({ startTime: 0, windowMs: 1000, capacity: 3 });
    assert.equal(ar.check('1', 0, 100, 100), true);
    assert.equal(ar.check('2', 0, 100, 100), true);
    assert.equal(ar.check('3', 0, 100, 100), true);
    assert.equal(ar.check('4', 0, 100, 100), false); // full
    assert.equal(ar.size, 3);
    assert.equal(ar.check('5', 2000, 100, 2100), true); // the old ones expired
    assert.equal(ar.size, 1);
  });
});
