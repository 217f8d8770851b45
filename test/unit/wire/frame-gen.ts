// Seeded generator of random valid frames (canonical encodings), shared by the frame tests and
// the wire property tests.
import type { SeededRandom } from '../../../src/common/random.js';
import type { Frame } from '../../../src/wire/frames.js';

const SIZE_LIMITS = [0x40, 0x4000, 0x40000000, 2 ** 53];

/** A random varint value, spread over the 1/2/4/8-octet classes (at most `max`). */
export function randomVarint(rng: SeededRandom, max = 2 ** 53): number {
  const limit = Math.min(max, SIZE_LIMITS[rng.int(4)]!);
  return Math.floor(rng.next() * limit);
}

export function randomBytes(rng: SeededRandom, n: number): Uint8Array {
  const b = new Uint8Array(n);
  rng.fill(b);
  return b;
}

const REASONS = ['', 'bye', 'flow control', 'héllo wörld', '接続終了', 'emoji 🚀 done'];

function randomAckRanges(rng: SeededRandom): number[] {
  const largest = randomVarint(rng, 2 ** 40);
  const ranges: number[] = [];
  let hi = largest;
  const count = 1 + rng.int(6);
  for (let i = 0; i < count; i++) {
    const lo = hi - Math.floor(rng.next() * Math.min(hi + 1, rng.next() < 0.5 ? 10 : 100_000));
    ranges.push(hi, lo);
    if (lo < 2) break;
    const nextHi = lo - 2 - Math.floor(rng.next() * Math.min(lo - 1, rng.next() < 0.5 ? 10 : 100_000));
    if (nextHi < 0) break;
    hi = nextHi;
  }
  return ranges;
}

/** A random valid frame of a random (or the given) kind. */
export function randomFrame(rng: SeededRandom, kind = rng.int(21)): Frame {
  switch (kind) {
    case 0:
      return { type: 'padding', length: 1 + rng.int(40) };
    case 1:
      return { type: 'ping' };
    case 2: {
      const ranges = randomAckRanges(rng);
      return {
        type: 'ack',
        largest: ranges[0]!,
        ranges,
        ackDelay: randomVarint(rng),
        ecn:
          rng.next() < 0.5
            ? undefined
            : { ect0: randomVarint(rng), ect1: randomVarint(rng), ce: randomVarint(rng) },
      };
    }
    case 3:
      return {
        type: 'reset_stream',
        streamId: randomVarint(rng),
        errorCode: randomVarint(rng),
        finalSize: randomVarint(rng),
      };
    case 4:
      return { type: 'stop_sending', streamId: randomVarint(rng), errorCode: randomVarint(rng) };
    case 5:
      return { type: 'crypto', offset: randomVarint(rng), data: randomBytes(rng, rng.int(50)) };
    case 6:
      return { type: 'new_token', token: randomBytes(rng, 1 + rng.int(40)) };
    case 7:
      return {
        type: 'stream',
        streamId: randomVarint(rng),
        offset: rng.next() < 0.3 ? 0 : randomVarint(rng),
        data: randomBytes(rng, rng.int(50)),
        fin: rng.next() < 0.5,
      };
    case 8:
      return { type: 'max_data', maximum: randomVarint(rng) };
    case 9:
      return { type: 'max_stream_data', streamId: randomVarint(rng), maximum: randomVarint(rng) };
    case 10:
      return { type: 'max_streams', bidi: rng.next() < 0.5, maximum: randomVarint(rng, 2 ** 53) };
    case 11:
      return { type: 'data_blocked', limit: randomVarint(rng) };
    case 12:
      return { type: 'stream_data_blocked', streamId: randomVarint(rng), limit: randomVarint(rng) };
    case 13:
      return { type: 'streams_blocked', bidi: rng.next() < 0.5, limit: randomVarint(rng) };
    case 14: {
      const sequence = randomVarint(rng);
      return {
        type: 'new_connection_id',
        sequence,
        retirePriorTo: Math.floor(rng.next() * (sequence + 1)),
        connectionId: randomBytes(rng, 1 + rng.int(20)),
        resetToken: randomBytes(rng, 16),
      };
    }
    case 15:
      return { type: 'retire_connection_id', sequence: randomVarint(rng) };
    case 16:
      return { type: 'path_challenge', data: randomBytes(rng, 8) };
    case 17:
      return { type: 'path_response', data: randomBytes(rng, 8) };
    case 18: {
      const application = rng.next() < 0.5;
      return {
        type: 'connection_close',
        application,
        errorCode: randomVarint(rng),
        frameType: application ? 0 : rng.int(0x1f),
        reason: REASONS[rng.int(REASONS.length)]!,
      };
    }
    case 19:
      return { type: 'handshake_done' };
    default:
      return { type: 'datagram', data: randomBytes(rng, rng.int(60)) };
  }
}
