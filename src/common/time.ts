// Time in the core is explicit: an Instant is a number of microseconds on a monotonic clock
// chosen by the driver (virtual in the simulator, performance.now() in the Node runtime).

/** Monotonic timestamp in microseconds. */
export type Instant = number;
/** Duration in microseconds. */
export type Duration = number;

export const MICROS_PER_MILLI = 1000;
export const MICROS_PER_SECOND = 1_000_000;

export const ms = (n: number): Duration => n * MICROS_PER_MILLI;
export const seconds = (n: number): Duration => n * MICROS_PER_SECOND;

/** "No deadline". Comparisons with Infinity work without special cases. */
export const NEVER: Instant = Number.POSITIVE_INFINITY;
