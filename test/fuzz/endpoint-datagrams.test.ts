// Hostile datagrams at the endpoint (product rule: "hostile input never crashes it"): random
// and mutated datagrams, and well-encrypted packets full of random frames, must end in a dropped
// packet or a CONNECTION_CLOSE with an RFC code — never an exception, never INTERNAL_ERROR.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TransportErrorCode } from '../../src/common/errors.js';
import { SeededRandom } from '../../src/common/random.js';
import { forgeOneRtt, KeyLog, trackClientDcid } from '../sim/forge.js';
import { QuicSim } from '../sim/quic.js';
import { generateInput } from '../support/property.js';

const seed = Number(process.env.PROPERTY_SEED ?? 0x5eed) >>> 0;

test('random and mutated datagrams never throw and never close an established connection', () => {
  const log = new KeyLog();
  const q = new QuicSim({ seed: 201, link: { delay: 1_000 }, clientEndpoint: { keyLog: log.keyLog } });
  const corpus: Uint8Array[] = [];
  q.sim.onDatagram((e) => {
    if (e.kind === 'send' && corpus.length < 200) corpus.push(new Uint8Array(e.data));
  });
  const { client, server } = q.handshake();
  q.runUntil(() => client.handshakeConfirmed);
  const rng = new SeededRandom(seed);
  const ep = q.server.endpoint;
  const path = { local: q.serverAddress, remote: q.clientAddress };
  for (let i = 0; i < 50_000; i++) {
    const d = generateInput(rng, corpus, 1500);
    try {
      ep.handleDatagram(q.now, path, d, 0);
      while (ep.pollTransmit(q.now)) {}
    } catch (e) {
      assert.fail(
        `case ${i} (PROPERTY_SEED=${seed}) threw ${String(e)} for ${Buffer.from(d).toString('hex').slice(0, 200)}`,
      );
    }
  }
  // Forgeries cannot authenticate: the connection is untouched.
  assert.equal(server.state, 'established');
  assert.equal(server.closeInfo, undefined);
});

test('authenticated packets with random frame bytes close with an RFC code, never INTERNAL_ERROR', () => {
  const rng = new SeededRandom(seed ^ 0xa5a5);
  const codes = new Map<number, number>();
  for (let i = 0; i < 600; i++) {
    const log = new KeyLog();
    const q = new QuicSim({ seed: 300 + i, link: { delay: 1_000 }, clientEndpoint: { keyLog: log.keyLog } });
    const dcid = trackClientDcid(q);
    const { client, server } = q.handshake();
    q.runUntil(() => client.handshakeConfirmed);
    // Random frame octets: forge a packet with one raw 'padding' frame replaced by random bytes.
    const junk = new Uint8Array(1 + rng.int(200));
    rng.fill(junk);
    const data = forgeOneRtt(client, log, [], { dcid: dcid(), raw: junk });
    try {
      q.server.handleDatagram(q.now, { local: q.serverAddress, remote: q.clientAddress }, data, 0);
    } catch (e) {
      assert.fail(`case ${i} threw ${String(e)} for frames ${Buffer.from(junk).toString('hex')}`);
    }
    const info = server.closeInfo;
    if (info) {
      assert.notEqual(
        info.code,
        TransportErrorCode.INTERNAL_ERROR,
        `INTERNAL_ERROR for ${Buffer.from(junk).toString('hex')}: ${info.reason}`,
      );
      codes.set(info.code, (codes.get(info.code) ?? 0) + 1);
    }
  }
  // The random frames hit several distinct error paths.
  assert.ok(codes.size >= 3, `error codes seen: ${[...codes.keys()].map((c) => c.toString(16))}`);
});
