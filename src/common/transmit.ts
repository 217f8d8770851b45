// A datagram leaving the core, with the path it must be sent on.
import type { Path } from './addr.js';

/** ECN codepoint (the IP header's two bits): 0 Not-ECT, 1 ECT(1), 2 ECT(0), 3 CE. */
export type Ecn = 0 | 1 | 2 | 3;

export interface Transmit {
  /** Send from `path.local` to `path.remote`. */
  readonly path: Path;
  readonly data: Uint8Array;
  readonly ecn: Ecn;
}
