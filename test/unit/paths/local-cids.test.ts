import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { equalBytes } from '../../../src/common/bytes.js';
import { TransportError, TransportErrorCode } from '../../../src/common/errors.js';
import { SeededRandom } from '../../../src/common/random.js';
import { RandomConnectionIdGenerator } from '../../../src/endpoint/cid-generator.js';
import { type CidRecord, type LocalCidEvent, LocalCids } from '../../../src/paths/local-cids.js';
import { decodeFrame, encodeFrame, type Frame } from '../../../src/wire/frames.js';
import { BufferReader } from '../../../src/wire/reader.js';
import { BufferWriter } from '../../../src/wire/writer.js';
import { checkDecoder } from '../../support/property.js';
import { CountingGenerator, cidOf, decodeAll, tokenFor } from './cid-helpers.js';

const PV = TransportErrorCode.PROTOCOL_VIOLATION;

type NewCid = Extract<Frame, { type: 'new_connection_id' }>;

function make(opts: { preferred?: boolean; length?: number; maxActive?: number } = {}): LocalCids {
  const generator = new CountingGenerator(opts.length ?? 8);
  return new LocalCids({
    generator,
    resetTokenFor: tokenFor,
    initialCid: opts.length === 0 ? new Uint8Array(0) : cidOf(0xaa, opts.length ?? 8),
    ...(opts.preferred ? { preferredAddressCid: cidOf(0xbb) } : {}),
    ...(opts.maxActive !== undefined ? { maxActive: opts.maxActive } : {}),
  });
}

function drain(l: LocalCids, capacity = 1200): { frames: NewCid[]; records: CidRecord[] } {
  const w = new BufferWriter(new Uint8Array(capacity));
  const records: CidRecord[] = [];
  l.writeFrames(w, records);
  const frames = decodeAll(w.finish()).map((f) => {
    assert.equal(f.type, 'new_connection_id');
    return f as NewCid;
  });
  assert.equal(frames.length, records.length);
  return { frames, records };
}

function events(l: LocalCids): LocalCidEvent[] {
  const out: LocalCidEvent[] = [];
  for (let e = l.pollEvent(); e; e = l.pollEvent()) out.push(e);
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

describe('LocalCids', () => {
  it('registers the handshake CID as sequence 0 and the preferred-address CID as 1', () => {
    const l = make({ preferred: true });
    const ev = events(l);
    assert.deepEqual(
      ev.map((e) => [e.type, e.sequence]),
      [
        ['issued', 0],
        ['issued', 1],
      ],
    );
    assert.equal(l.lookup(cidOf(0xaa)), 0);
    assert.equal(l.lookup(cidOf(0xbb)), 1);
    assert.equal(l.lookup(cidOf(0xcc)), undefined);
    assert.deepEqual(l.get(1)?.resetToken, tokenFor(cidOf(0xbb)));
    assert.equal(l.hasPendingFrames(), false, 'seq 0 and 1 never travel in NEW_CONNECTION_ID');
    assert.equal(l.nextSequence, 2);
  });

  it("issues NEW_CONNECTION_IDs up to the peer's active_connection_id_limit", () => {
    const l = make();
    events(l);
    assert.equal(l.hasPendingFrames(), false, 'nothing before the limit is known');
    l.setPeerActiveLimit(4);
    assert.equal(l.activeCount, 4);
    assert.equal(l.hasPendingFrames(), true);
    const { frames, records } = drain(l);
    assert.deepEqual(
      frames.map((f) => [f.sequence, f.retirePriorTo]),
      [
        [1, 0],
        [2, 0],
        [3, 0],
      ],
    );
    for (const f of frames) {
      assert.equal(l.lookup(f.connectionId), f.sequence);
      assert.deepEqual(f.resetToken, tokenFor(f.connectionId));
    }
    assert.deepEqual(
      records.map((r) => [r.type, r.sequence]),
      [
        ['new_connection_id', 1],
        ['new_connection_id', 2],
        ['new_connection_id', 3],
      ],
    );
    const ev = events(l);
    assert.deepEqual(
      ev.map((e) => e.sequence),
      [1, 2, 3],
    );
    assert.equal(l.hasPendingFrames(), false);
    assert.deepEqual(l.stats, { issued: 4, retired: 0, active: 4 });
  });

  it('caps the active CIDs at our own limit and counts the preferred-address CID', () => {
    const l = make({ maxActive: 5 });
    l.setPeerActiveLimit(1000);
    assert.equal(l.activeCount, 5);
    const p = make({ preferred: true });
    p.setPeerActiveLimit(2);
    assert.equal(p.activeCount, 2);
    assert.equal(p.hasPendingFrames(), false);
    p.setPeerActiveLimit(3);
    assert.deepEqual(
      drain(p).frames.map((f) => f.sequence),
      [2],
    );
  });

  it('writes only the frames that fit', () => {
    const l = make();
    l.setPeerActiveLimit(4);
    // One frame: 1 type + 1 seq + 1 rpt + 1 len + 8 cid + 16 token = 28 octets.
    const first = drain(l, 40);
    assert.equal(first.frames.length, 1);
    assert.equal(drain(l, 27).frames.length, 0);
    assert.equal(drain(l, 56).frames.length, 2);
    assert.equal(l.hasPendingFrames(), false);
  });

  it('retransmits lost NEW_CONNECTION_IDs, not acknowledged or retired ones', () => {
    const l = make();
    l.setPeerActiveLimit(4);
    const { records } = drain(l);
    const [r1, r2, r3] = records as [CidRecord, CidRecord, CidRecord];
    l.onAcked(r1);
    l.onLost(r1); // already acknowledged
    l.onLost(r2);
    l.onRetireConnectionId(3, cidOf(0xaa));
    l.onLost(r3); // retired since
    const again = drain(l);
    assert.deepEqual(
      again.frames.map((f) => f.sequence),
      [2, 4],
    );
    // Lost, then acknowledged late: not sent again.
    l.onLost(again.records[0]!);
    l.onAcked(again.records[0]!);
    assert.equal(l.hasPendingFrames(), false);
  });

  it('replaces a retired CID and reports it for the routing table', () => {
    const l = make();
    l.setPeerActiveLimit(3);
    drain(l);
    events(l);
    const seq1 = l.get(1)!.cid;
    l.onRetireConnectionId(1, cidOf(0xaa));
    assert.equal(l.lookup(seq1), undefined);
    const ev = events(l);
    assert.equal(ev[0]?.type, 'retired');
    assert.equal(ev[0]?.sequence, 1);
    assert.ok(equalBytes(ev[0]!.cid, seq1));
    assert.equal(ev[1]?.type, 'issued');
    assert.equal(ev[1]?.sequence, 3);
    assert.equal(l.activeCount, 3);
    assert.deepEqual(
      drain(l).frames.map((f) => f.sequence),
      [3],
    );
    // Retiring an already retired sequence is ignored (no replacement).
    l.onRetireConnectionId(1, cidOf(0xaa));
    assert.equal(l.nextSequence, 4);
    assert.deepEqual(l.stats, { issued: 4, retired: 1, active: 3 });
  });

  it('rejects retiring a sequence never issued (§19.16)', () => {
    const l = make();
    l.setPeerActiveLimit(2);
    throwsCode(() => l.onRetireConnectionId(2, cidOf(0xaa)), PV, 0x19);
    throwsCode(() => l.onRetireConnectionId(1000, cidOf(0xaa)), PV, 0x19);
  });

  it('rejects retiring the CID the carrying packet was sent to (§19.16)', () => {
    const l = make();
    l.setPeerActiveLimit(2);
    const seq1 = l.get(1)!.cid;
    throwsCode(() => l.onRetireConnectionId(1, seq1), PV, 0x19);
    throwsCode(() => l.onRetireConnectionId(0, cidOf(0xaa)), PV, 0x19);
    l.onRetireConnectionId(0, seq1);
    assert.equal(l.lookup(cidOf(0xaa)), undefined);
  });

  it('never sends NEW_CONNECTION_ID with zero-length CIDs and rejects RETIRE_CONNECTION_ID', () => {
    const l = make({ length: 0 });
    assert.equal(l.zeroLength, true);
    l.setPeerActiveLimit(8);
    l.rotate();
    assert.equal(l.hasPendingFrames(), false);
    assert.equal(l.activeCount, 1);
    throwsCode(() => l.onRetireConnectionId(0, new Uint8Array(0)), PV, 0x19);
    assert.throws(() => make({ length: 0, preferred: true }), RangeError);
  });

  it('rotates: fresh CIDs with Retire Prior To past all older ones (§5.1.2)', () => {
    const l = make({ preferred: true });
    l.setPeerActiveLimit(3);
    drain(l); // seq 2
    events(l);
    l.rotate();
    assert.equal(l.retirePriorTo, 3);
    assert.equal(l.rotating, true);
    assert.equal(l.activeCount, 6, 'old ones stay valid until the peer retires them');
    const { frames } = drain(l);
    assert.deepEqual(
      frames.map((f) => [f.sequence, f.retirePriorTo]),
      [
        [3, 3],
        [4, 3],
        [5, 3],
      ],
    );
    // A second rotation waits for the first to complete.
    l.rotate();
    assert.equal(l.retirePriorTo, 3);
    l.onRetireConnectionId(0, frames[0]!.connectionId);
    l.onRetireConnectionId(1, frames[0]!.connectionId);
    assert.equal(l.hasPendingFrames(), false, 'no replacement while above the target');
    l.onRetireConnectionId(2, frames[0]!.connectionId);
    // All old ones retired: the deferred rotation starts.
    assert.equal(l.retirePriorTo, 6);
    assert.deepEqual(
      drain(l).frames.map((f) => [f.sequence, f.retirePriorTo]),
      [
        [6, 6],
        [7, 6],
        [8, 6],
      ],
    );
    l.onRetireConnectionId(3, cidOf(0xaa));
    l.onRetireConnectionId(4, cidOf(0xaa));
    l.onRetireConnectionId(5, cidOf(0xaa));
    assert.equal(l.rotating, false);
    assert.equal(l.activeCount, 3);
    // Replacements after rotation carry the current Retire Prior To.
    l.onRetireConnectionId(6, cidOf(0xaa));
    assert.deepEqual(
      drain(l).frames.map((f) => [f.sequence, f.retirePriorTo]),
      [[9, 6]],
    );
  });

  it('re-sends a lost CID below Retire Prior To with its original Retire Prior To', () => {
    const l = make();
    l.setPeerActiveLimit(2);
    const { records } = drain(l); // seq 1
    l.rotate(); // rpt 2: seq 2, 3
    l.onLost(records[0]!);
    const { frames } = drain(l);
    assert.deepEqual(
      frames.map((f) => [f.sequence, f.retirePriorTo]),
      [
        [2, 2],
        [3, 2],
        [1, 0],
      ],
    );
  });

  it('forgets CIDs whose NEW_CONNECTION_ID never left when rotating', () => {
    const l = make();
    l.setPeerActiveLimit(3);
    events(l);
    l.rotate();
    const ev = events(l);
    assert.deepEqual(
      ev.map((e) => [e.type, e.sequence]),
      [
        ['retired', 1],
        ['retired', 2],
        ['issued', 3],
        ['issued', 4],
        ['issued', 5],
      ],
    );
    assert.equal(l.activeCount, 4); // seq 0 and the three new ones
    assert.deepEqual(
      drain(l).frames.map((f) => f.sequence),
      [3, 4, 5],
    );
  });

  it('does nothing on rotate before the peer limit is known', () => {
    const l = make();
    l.rotate();
    assert.equal(l.retirePriorTo, 0);
    assert.equal(l.activeCount, 1);
  });

  it('never issues the same CID twice', () => {
    const repeating = { length: 4, generate: () => new Uint8Array([1, 2, 3, 4]) };
    const l = new LocalCids({
      generator: repeating,
      resetTokenFor: tokenFor,
      initialCid: new Uint8Array([9, 9, 9, 9]),
    });
    l.setPeerActiveLimit(2); // first one is fine
    assert.equal(l.activeCount, 2);
    throwsCode(() => l.setPeerActiveLimit(3), TransportErrorCode.INTERNAL_ERROR);
    // A retired CID is not reissued either.
    const r = new LocalCids({
      generator: repeating,
      resetTokenFor: tokenFor,
      initialCid: new Uint8Array([9, 9, 9, 9]),
    });
    r.setPeerActiveLimit(2);
    throwsCode(
      () => r.onRetireConnectionId(1, new Uint8Array([9, 9, 9, 9])),
      TransportErrorCode.INTERNAL_ERROR,
    );
  });

  it('works with a random generator', () => {
    const l = new LocalCids({
      generator: new RandomConnectionIdGenerator(16, new SeededRandom(7)),
      resetTokenFor: tokenFor,
      initialCid: new Uint8Array(16).fill(1),
    });
    l.setPeerActiveLimit(8);
    const { frames } = drain(l);
    assert.equal(frames.length, 7);
    assert.ok(frames.every((f) => f.connectionId.length === 16));
    assert.equal([...l.active()].length, 8);
  });
});

describe('LocalCids under hostile input', () => {
  it('throws only TransportError for arbitrary RETIRE_CONNECTION_ID sequences (100k cases)', () => {
    const corpus: Uint8Array[] = [];
    for (const seq of [0, 1, 2, 3, 7, 64]) {
      const w = new BufferWriter(16);
      encodeFrame(w, { type: 'retire_connection_id', sequence: seq });
      encodeFrame(w, { type: 'retire_connection_id', sequence: seq + 1 });
      corpus.push(w.finish());
    }
    const decoded = checkDecoder(
      'LocalCids.onRetireConnectionId',
      (input) => {
        const l = make();
        l.setPeerActiveLimit(4);
        const rd = new BufferReader(input);
        while (!rd.done) {
          const f = decodeFrame(rd);
          if (f.type !== 'retire_connection_id') continue;
          // The packet went to sequence 0 or 2 (when still active).
          const dcid = (input.length & 1 ? l.get(2)?.cid : undefined) ?? cidOf(0xaa);
          l.onRetireConnectionId(f.sequence, dcid);
          assert.equal(l.activeCount, 4);
        }
        return l;
      },
      { corpus, cases: 100_000 },
    );
    assert.ok(decoded > 1000, `inputs fully accepted: ${decoded}`);
  });
});
