// Shared QPACK/HTTP types.

/** One field line: a lowercase name and a value, both latin1 byte strings. */
export type FieldLine = [name: string, value: string];
