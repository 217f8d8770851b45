// Seeded property testing for decoders of untrusted input: random octets and mutations of
// valid examples must either decode or throw a TransportError, nothing else.
// A failure prints the seed and the input; PROPERTY_SEED=<n> replays a run.
import assert from 'node:assert/strict';
import { TransportError } from '../../src/common/errors.js';
import { SeededRandom } from '../../src/common/random.js';

export interface DecoderCheckOptions {
  /** Number of generated inputs (default 100_000). */
  cases?: number;
  /** Valid encodings to mutate; without them inputs are random octets only. */
  corpus?: Uint8Array[];
  /** Maximum length of purely random inputs (default 64). */
  maxLength?: number;
  seed?: number;
  /** Extra check on inputs that decoded without throwing. */
  onDecoded?: (input: Uint8Array, value: unknown) => void;
}

const INTERESTING = [0x00, 0x01, 0x3f, 0x40, 0x7f, 0x80, 0xbf, 0xc0, 0xff];

/** One random or mutated input. */
export function generateInput(rng: SeededRandom, corpus: Uint8Array[], maxLength: number): Uint8Array {
  const base = corpus.length > 0 && rng.next() < 0.8 ? corpus[rng.int(corpus.length)] : undefined;
  if (!base) {
    const out = new Uint8Array(rng.int(maxLength + 1));
    rng.fill(out);
    if (out.length > 0 && rng.next() < 0.5) out[0] = INTERESTING[rng.int(INTERESTING.length)]!;
    return out;
  }
  let out: Uint8Array = base.slice();
  const mutations = 1 + rng.int(4);
  for (let m = 0; m < mutations; m++) {
    const kind = rng.int(6);
    if (kind === 0 && out.length > 0) {
      out[rng.int(out.length)]! ^= 1 << rng.int(8); // bit flip
    } else if (kind === 1 && out.length > 0) {
      out[rng.int(out.length)] = INTERESTING[rng.int(INTERESTING.length)]!; // interesting octet
    } else if (kind === 2) {
      out = out.slice(0, rng.int(out.length + 1)); // truncate
    } else if (kind === 3) {
      const at = rng.int(out.length + 1);
      const ins = new Uint8Array(1 + rng.int(8));
      rng.fill(ins);
      const next = new Uint8Array(out.length + ins.length);
      next.set(out.subarray(0, at));
      next.set(ins, at);
      next.set(out.subarray(at), at + ins.length);
      out = next; // insert
    } else if (kind === 4 && out.length > 1) {
      const at = rng.int(out.length);
      const n = 1 + rng.int(Math.min(8, out.length - at));
      const next = new Uint8Array(out.length - n);
      next.set(out.subarray(0, at));
      next.set(out.subarray(at + n), at);
      out = next; // delete
    } else if (out.length > 0) {
      const other = corpus[rng.int(corpus.length)]!;
      const at = rng.int(out.length);
      const next = new Uint8Array(at + other.length);
      next.set(out.subarray(0, at));
      next.set(other, at);
      out = next; // splice with another example
    }
  }
  return out;
}

/**
 * Asserts that `decode` throws nothing but TransportError on `cases` generated inputs.
 * Returns how many inputs decoded successfully (so tests can check the corpus is exercised).
 */
export function checkDecoder(
  name: string,
  decode: (input: Uint8Array) => unknown,
  opts: DecoderCheckOptions = {},
): number {
  const seed = opts.seed ?? Number(process.env.PROPERTY_SEED ?? 0x5eed) >>> 0;
  const rng = new SeededRandom(seed);
  const cases = opts.cases ?? 100_000;
  const corpus = opts.corpus ?? [];
  const maxLength = opts.maxLength ?? 64;
  let decoded = 0;
  for (let i = 0; i < cases; i++) {
    const input = generateInput(rng, corpus, maxLength);
    let value: unknown;
    try {
      value = decode(input);
    } catch (e) {
      if (e instanceof TransportError) continue;
      assert.fail(
        `${name}: case ${i} (PROPERTY_SEED=${seed}) threw ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)} ` +
          `for input ${Buffer.from(input).toString('hex')}`,
      );
    }
    decoded++;
    opts.onDecoded?.(input, value);
  }
  return decoded;
}
