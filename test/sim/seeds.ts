// Runs a scenario once per seed. A failure is rethrown with `seed=<n> (replay: SIM_SEED=<n>)`
// prepended; with SIM_SEED set in the environment only that seed runs.

/** The seeds to run: `seeds`, or only SIM_SEED when it is set. */
export function selectSeeds(seeds: readonly number[]): number[] {
  const env = process.env['SIM_SEED'];
  if (env === undefined || env.trim() === '') return [...seeds];
  const seed = Number(env.trim());
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) {
    throw new RangeError(`SIM_SEED must be an integer in [0, 2^32), got ${JSON.stringify(env)}`);
  }
  return [seed];
}

export function forEachSeed(seeds: readonly number[], fn: (seed: number) => void): void {
  for (const seed of selectSeeds(seeds)) {
    try {
      fn(seed);
    } catch (e) {
      throw withSeed(e, seed);
    }
  }
}

/** Same for async scenarios. */
export async function forEachSeedAsync(
  seeds: readonly number[],
  fn: (seed: number) => Promise<void>,
): Promise<void> {
  for (const seed of selectSeeds(seeds)) {
    try {
      await fn(seed);
    } catch (e) {
      throw withSeed(e, seed);
    }
  }
}

/** Prepends the seed to the error's message (keeping its class, e.g. AssertionError, and its stack). */
function withSeed(e: unknown, seed: number): unknown {
  const prefix = `seed=${seed} (replay: SIM_SEED=${seed})`;
  if (!(e instanceof Error)) return new Error(`${prefix}: ${String(e)}`, { cause: e });
  const old = e.message;
  try {
    const message = `${prefix}: ${old}`;
    e.message = message;
    if (typeof e.stack === 'string' && old !== '' && e.stack.includes(old))
      e.stack = e.stack.replace(old, () => message);
    else if (typeof e.stack === 'string') e.stack = `${prefix}: ${e.stack}`;
    return e;
  } catch {
    return new Error(`${prefix}: ${old}`, { cause: e });
  }
}
