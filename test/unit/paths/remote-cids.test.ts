import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TransportError, TransportErrorCode } from '../../../src/common/errors.js';
import type { CidRecord } from '../../../src/paths/local-cids.js';
import { type RemoteCidEvent, RemoteCids } from '../../../src/paths/remote-cids.js';
import { decodeFrame, encodeFrame } from '../../../src/wire/frames.js';
import { BufferReader } from '../../../src/wire/reader.js';
import { BufferWriter } from '../../../src/wire/writer.js';
import { checkDecoder } from '../../support/property.js';
import { cidOf, decodeAll, tokenFor } from './cid-helpers.js';

const PV = TransportErrorCode.PROTOCOL_VIOLATION;
const LIMIT = TransportErrorCode.CONNECTION_ID_LIMIT_ERROR;
const NCID = 0x18;

function ncid(sequence: number, retirePriorTo = 0, cid = cidOf(0x10 + sequence)) {
  return { sequence, retirePriorTo, connectionId: cid, resetToken: tokenFor(cid) };
}

function make(activeLimit = 4, opts: { zero?: boolean; token?: boolean } = {}): RemoteCids {
  const initialCid = opts.zero ? new Uint8Array(0) : cidOf(0x10);
  return new RemoteCids({
    initialCid,
    activeLimit,
    ...(opts.token ? { initialResetToken: tokenFor(initialCid) } : {}),
  });
}

function retires(r: RemoteCids, capacity = 1200, dcidSeq = -1): { seqs: number[]; records: CidRecord[] } {
  const w = new BufferWriter(new Uint8Array(capacity));
  const records: CidRecord[] = [];
  r.writeFrames(w, records, dcidSeq);
  const seqs = decodeAll(w.finish()).map((f) => {
    assert.equal(f.type, 'retire_connection_id');
    return f.type === 'retire_connection_id' ? f.sequence : -1;
  });
  assert.deepEqual(
    records.map((x) => x.sequence),
    seqs,
  );
  return { seqs, records };
}

function events(r: RemoteCids): RemoteCidEvent[] {
  const out: RemoteCidEvent[] = [];
  for (let e = r.pollEvent(); e; e = r.pollEvent()) out.push(e);
  return out;
}

function throwsCode(fn: () => unknown, code: number, frameType?: number): void {
  assert.throws(fn, (e) => {
    assert.ok(e instanceof TransportError, String(e));
    assert.equal(e.code, code);
    if (frameType !== undefined) assert.equal(e.frameType, frameType);
    return true;
  });
}

describe('RemoteCids', () => {
  it('accepts new CIDs up to the limit and ignores exact duplicates', () => {
    const r = make(4);
    for (const s of [1, 2, 3]) assert.deepEqual(r.onNewConnectionId(ncid(s)), []);
    r.onNewConnectionId(ncid(2)); // retransmission
    assert.equal(r.activeCount, 4);
    assert.equal(r.unusedCount, 4);
    assert.deepEqual(r.stats, { received: 4, retired: 0, active: 4, unused: 4 });
    throwsCode(() => r.onNewConnectionId(ncid(4)), LIMIT, NCID);
  });

  it('rejects a sequence number reused for another CID or token (§19.15)', () => {
    const r = make();
    r.onNewConnectionId(ncid(1));
    throwsCode(() => r.onNewConnectionId(ncid(1, 0, cidOf(0x77))), PV, NCID);
    throwsCode(() => r.onNewConnectionId({ ...ncid(1), resetToken: new Uint8Array(16) }), PV, NCID);
  });

  it('rejects a CID repeated under another sequence number (§19.15)', () => {
    const r = make();
    r.onNewConnectionId(ncid(1));
    throwsCode(() => r.onNewConnectionId(ncid(2, 0, cidOf(0x11))), PV, NCID);
    throwsCode(() => r.onNewConnectionId(ncid(2, 0, cidOf(0x10))), PV, NCID); // the handshake CID
  });

  it('rejects Retire Prior To above the sequence number (§19.15)', () => {
    throwsCode(() => make().onNewConnectionId(ncid(2, 3)), TransportErrorCode.FRAME_ENCODING_ERROR, NCID);
  });

  it('rejects any NEW_CONNECTION_ID from a peer using zero-length CIDs (§19.15)', () => {
    const r = make(4, { zero: true });
    throwsCode(() => r.onNewConnectionId(ncid(1)), PV, NCID);
  });

  it('shares the zero-length CID among all paths and never retires it', () => {
    const r = make(4, { zero: true });
    assert.equal(r.bind(0)?.cid.length, 0);
    assert.equal(r.bind(1)?.sequence, 0);
    assert.equal(r.switchCid(1)?.sequence, 0);
    r.release(1);
    assert.equal(r.current(1), undefined);
    assert.equal(r.retireHandshakeCid(), false);
    assert.equal(r.hasPendingFrames(), false);
    assert.equal(r.current(0)?.sequence, 0);
  });

  it('Retire Prior To retires older CIDs, including the one the active path uses', () => {
    const r = make(3);
    assert.equal(r.bind(7)?.sequence, 0);
    r.onNewConnectionId(ncid(1));
    r.onNewConnectionId(ncid(2));
    // Temporarily more than the limit is fine: retirement happens before adding (§5.1.2).
    assert.deepEqual(r.onNewConnectionId(ncid(3, 2)), [7]);
    assert.equal(r.current(7), undefined);
    assert.equal(r.activeCount, 2);
    assert.deepEqual(retires(r).seqs, [0, 1]);
    assert.equal(r.bind(7)?.sequence, 2);
    // A lower Retire Prior To has no effect (§19.15).
    r.onNewConnectionId(ncid(4, 1));
    assert.equal(r.current(7)?.sequence, 2);
    assert.equal(r.retirePriorTo, 2);
    assert.equal(r.hasPendingFrames(), false);
  });

  it('Retire Prior To jumping past the preferred-address CID being probed', () => {
    const r = make(3, { token: true });
    r.setPreferredAddressCid(cidOf(0x11), tokenFor(cidOf(0x11)));
    assert.equal(r.bind(0)?.sequence, 0); // active path
    assert.equal(r.bind(1, 1)?.sequence, 1); // probing the preferred address with CID 1
    r.onNewConnectionId(ncid(2));
    events(r);
    const lost = r.onNewConnectionId(ncid(5, 5));
    assert.deepEqual([...lost].sort(), [0, 1]);
    assert.deepEqual(
      events(r).map((e) => e.type),
      ['retired-token', 'retired-token'],
    );
    assert.equal(r.matchesStatelessReset(tokenFor(cidOf(0x11))), false);
    // Only CID 5 is left: the caller moves the active path first.
    assert.equal(r.bind(0)?.sequence, 5);
    assert.equal(r.bind(1), undefined);
    r.onNewConnectionId(ncid(6, 5));
    assert.equal(r.bind(1)?.sequence, 6);
    assert.deepEqual(retires(r).seqs, [0, 1, 2]);
  });

  it('retires a CID that arrives below Retire Prior To, once (§19.15)', () => {
    const r = make(4);
    r.onNewConnectionId(ncid(4, 3));
    assert.deepEqual(retires(r).seqs, [0]);
    r.onNewConnectionId(ncid(2, 0));
    r.onNewConnectionId(ncid(2, 0)); // duplicate: no second RETIRE
    r.onNewConnectionId(ncid(1, 1));
    assert.deepEqual(retires(r).seqs, [2, 1]);
    assert.equal(r.activeCount, 1);
    assert.equal(r.bind(0)?.sequence, 4);
    // A late copy of a frame for a sequence we retired ourselves is ignored.
    assert.equal(r.switchCid(0), undefined, 'no unused CID');
    r.onNewConnectionId(ncid(5, 3));
    assert.equal(r.switchCid(0)?.sequence, 5);
    r.onNewConnectionId(ncid(4, 3));
    assert.equal(r.activeCount, 1);
    assert.deepEqual(retires(r).seqs, [4]);
  });

  it('binds a fresh CID per path and never reuses one on another path (§9.5)', () => {
    const r = make(4);
    r.onNewConnectionId(ncid(1));
    r.onNewConnectionId(ncid(2));
    assert.equal(r.bind(0)?.sequence, 0);
    assert.equal(r.bind(0)?.sequence, 0, 'idempotent');
    assert.equal(r.bind(1)?.sequence, 1);
    assert.equal(r.unusedCount, 1);
    r.release(1);
    assert.equal(r.current(1), undefined);
    assert.equal(r.bind(2)?.sequence, 2, 'the released CID 1 is not handed out again');
    assert.equal(r.bind(3), undefined, 'no unused CID left');
    assert.equal(r.bind(3, 0), undefined, 'sequence 0 is in use on path 0');
    assert.deepEqual(retires(r).seqs, [1]);
    assert.deepEqual(r.stats, { received: 3, retired: 1, active: 2, unused: 0 });
  });

  it('switchCid moves a path to a fresh CID and retires the old one', () => {
    const r = make(4);
    r.bind(0);
    assert.equal(r.switchCid(0), undefined);
    assert.equal(r.current(0)?.sequence, 0, 'kept when nothing is available');
    r.onNewConnectionId(ncid(1));
    assert.equal(r.switchCid(0)?.sequence, 1);
    assert.equal(r.current(0)?.sequence, 1);
    assert.deepEqual(retires(r).seqs, [0]);
  });

  it('retireHandshakeCid moves the path using sequence 0 to a fresh CID', () => {
    const r = make(4);
    r.bind(3);
    assert.equal(r.retireHandshakeCid(), false, 'no replacement available');
    assert.equal(r.current(3)?.sequence, 0);
    r.onNewConnectionId(ncid(1));
    assert.equal(r.retireHandshakeCid(), true);
    assert.equal(r.current(3)?.sequence, 1);
    assert.equal(r.retireHandshakeCid(), false, 'already retired');
    assert.deepEqual(retires(r).seqs, [0]);
    // Unbound: retired directly.
    const u = make(4);
    u.onNewConnectionId(ncid(1));
    u.bind(5, 1);
    assert.equal(u.retireHandshakeCid(), true);
    assert.equal(u.activeCount, 1);
    assert.deepEqual(retires(u).seqs, [0]);
  });

  it('matches stateless reset tokens of CIDs in use only (§10.3.1)', () => {
    const r = make(4, { token: true });
    const t0 = tokenFor(cidOf(0x10));
    assert.equal(r.matchesStatelessReset(t0), false, 'unused CID');
    r.bind(0);
    assert.deepEqual(events(r), [{ type: 'active-token', token: t0 }]);
    assert.equal(r.matchesStatelessReset(t0), true);
    assert.equal(r.matchesStatelessReset(t0.subarray(0, 15)), false);
    assert.equal(r.matchesStatelessReset(new Uint8Array(16)), false);
    r.onNewConnectionId(ncid(1));
    const t1 = tokenFor(cidOf(0x11));
    assert.equal(r.matchesStatelessReset(t1), false, 'unused CID');
    r.switchCid(0);
    assert.equal(r.matchesStatelessReset(t1), true);
    assert.equal(r.matchesStatelessReset(t0), false, 'retired CID');
    assert.deepEqual(
      events(r).map((e) => e.type),
      ['retired-token', 'active-token'],
    );
  });

  it('learns the initial reset token after binding (client receiving transport parameters)', () => {
    const r = make(4);
    r.bind(0);
    const t0 = tokenFor(cidOf(0x10));
    assert.equal(r.matchesStatelessReset(t0), false);
    r.setInitialResetToken(t0);
    assert.equal(r.matchesStatelessReset(t0), true);
    assert.deepEqual(events(r), [{ type: 'active-token', token: t0 }]);
  });

  it('validates the preferred-address CID', () => {
    throwsCode(
      () => make(4, { zero: true }).setPreferredAddressCid(cidOf(1), tokenFor(cidOf(1))),
      TransportErrorCode.TRANSPORT_PARAMETER_ERROR,
    );
    throwsCode(
      () => make().setPreferredAddressCid(new Uint8Array(0), new Uint8Array(16)),
      TransportErrorCode.TRANSPORT_PARAMETER_ERROR,
    );
    throwsCode(
      () => make().setPreferredAddressCid(cidOf(0x10), new Uint8Array(16)),
      TransportErrorCode.TRANSPORT_PARAMETER_ERROR,
    );
    const r = make(2);
    r.setPreferredAddressCid(cidOf(0x11), tokenFor(cidOf(0x11)));
    assert.equal(r.activeCount, 2);
    // It counts toward the limit; a NEW_CONNECTION_ID for sequence 1 must match it.
    throwsCode(() => r.onNewConnectionId(ncid(2)), LIMIT, NCID);
    const s = make(2);
    s.setPreferredAddressCid(cidOf(0x11), tokenFor(cidOf(0x11)));
    throwsCode(() => s.onNewConnectionId(ncid(1, 0, cidOf(0x55))), PV, NCID);
    s.onNewConnectionId(ncid(1));
    assert.equal(s.activeCount, 2);
  });

  it('retransmits lost RETIRE_CONNECTION_IDs until acknowledged', () => {
    const r = make(4);
    r.onNewConnectionId(ncid(1));
    r.onNewConnectionId(ncid(2));
    r.bind(0);
    r.switchCid(0);
    r.switchCid(0);
    const { records } = retires(r);
    assert.deepEqual(
      records.map((x) => x.sequence),
      [0, 1],
    );
    assert.equal(r.pendingRetireCount, 2);
    r.onLost(records[0]!);
    r.onAcked(records[1]!);
    r.onLost(records[1]!); // acknowledged already
    const again = retires(r);
    assert.deepEqual(again.seqs, [0]);
    r.onAcked(again.records[0]!);
    r.onLost(records[0]!); // stale loss of an acknowledged retirement
    assert.equal(r.hasPendingFrames(), false);
    assert.equal(r.pendingRetireCount, 0);
  });

  it("never retires a packet's own DCID sequence in that packet (§19.16)", () => {
    const r = make(4);
    r.onNewConnectionId(ncid(1));
    r.onNewConnectionId(ncid(3, 3));
    assert.deepEqual(retires(r, 1200, 1).seqs, [0]);
    assert.deepEqual(retires(r, 1200, -1).seqs, [1]);
  });

  it('writes only the RETIRE_CONNECTION_IDs that fit', () => {
    const r = make(4);
    r.onNewConnectionId(ncid(1));
    r.onNewConnectionId(ncid(2));
    r.onNewConnectionId(ncid(3, 3));
    assert.deepEqual(retires(r, 5).seqs, [0, 1]);
    assert.deepEqual(retires(r, 1).seqs, []);
    assert.deepEqual(retires(r, 2).seqs, [2]);
  });

  it('bounds unacknowledged retirements with CONNECTION_ID_LIMIT_ERROR (§5.1.2)', () => {
    const r = new RemoteCids({ initialCid: cidOf(0x10), activeLimit: 2, maxPendingRetires: 4 });
    for (let s = 1; s <= 4; s++) r.onNewConnectionId(ncid(s, s));
    assert.equal(r.pendingRetireCount, 4);
    throwsCode(() => r.onNewConnectionId(ncid(5, 5)), LIMIT, NCID);
  });
});

describe('RemoteCids under hostile input', () => {
  it('throws only TransportError for arbitrary NEW_CONNECTION_ID sequences (100k cases)', () => {
    const corpus: Uint8Array[] = [];
    for (const [seq, rpt, n] of [
      [1, 0, 1],
      [2, 1, 2],
      [5, 5, 3],
      [3, 0, 1],
      [1, 0, 9],
    ] as const) {
      const w = new BufferWriter(64);
      encodeFrame(w, { type: 'new_connection_id', ...ncid(seq, rpt, cidOf(0x10 + n, 1 + (n % 4))) });
      corpus.push(w.finish());
    }
    // Several frames per input, so state carries over between them.
    for (let i = 0; i < 40; i++) {
      const a = corpus[i % corpus.length]!;
      const b = corpus[(i * 7 + 3) % corpus.length]!;
      const both = new Uint8Array(a.length + b.length);
      both.set(a);
      both.set(b, a.length);
      corpus.push(both);
    }
    let accepted = 0;
    const decoded = checkDecoder(
      'RemoteCids.onNewConnectionId',
      (input) => {
        const r = new RemoteCids({ initialCid: cidOf(0x10, 2), activeLimit: 3 });
        r.bind(0);
        const rd = new BufferReader(input);
        while (!rd.done) {
          const f = decodeFrame(rd);
          if (f.type !== 'new_connection_id') continue;
          for (const p of r.onNewConnectionId(f)) r.bind(p);
          r.switchCid(0);
          assert.ok(r.activeCount <= 3);
          accepted++;
        }
        return r;
      },
      { corpus, cases: 100_000 },
    );
    assert.ok(decoded > 1000, `inputs fully accepted: ${decoded}`);
    assert.ok(accepted > 10_000, `frames accepted: ${accepted}`);
  });
});
