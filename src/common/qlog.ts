// qlog (draft-ietf-quic-qlog-main-schema / quic-events) event sink. The core only calls
// `event()` when a sink is configured; the Node runtime writes JSON-SEQ files.
import type { Instant } from './time.js';

export interface QlogSink {
  /** `name` is "category:event", e.g. "transport:packet_sent"; `time` is the core's clock (µs). */
  event(time: Instant, name: string, data: Record<string, unknown>): void;
}
