// Flow control (RFC 9000 §4): send-side credit granted by the peer and the receive-side window
// we advertise, with auto-tuning of the window (§4.2).
import { TransportError, TransportErrorCode } from '../common/errors.js';
import type { Duration, Instant } from '../common/time.js';

/** Credit the peer granted us (MAX_DATA or MAX_STREAM_DATA), and the blocked signal. */
export class SendCredit {
  /** Maximum offset (stream) or total octets (connection) we may send. */
  limit: number;
  used = 0;
  /** The limit for which a DATA_BLOCKED/STREAM_DATA_BLOCKED was last queued (-1 = none). */
  #blockedAt = -1;
  /** A blocked frame should be sent. */
  blockedPending = false;

  constructor(limit: number) {
    this.limit = limit;
  }

  get available(): number {
    return this.limit > this.used ? this.limit - this.used : 0;
  }

  /** Raises the limit; RFC 9000 §4.1: values that do not increase it are ignored. */
  update(maximum: number): boolean {
    if (maximum <= this.limit) return false;
    this.limit = maximum;
    this.blockedPending = false;
    return true;
  }

  consume(n: number): void {
    this.used += n;
  }

  /** Called when data is waiting and no credit is left: queues one blocked frame per limit. */
  markBlocked(): void {
    if (this.used >= this.limit && this.#blockedAt !== this.limit) {
      this.#blockedAt = this.limit;
      this.blockedPending = true;
    }
  }

  /** The limit to put in the blocked frame being written. */
  takeBlocked(): number {
    this.blockedPending = false;
    return this.limit;
  }

  /** RFC 9000 §13.3: a lost blocked frame is resent only while still blocked on the limit. */
  onBlockedLost(): void {
    if (this.used >= this.limit && this.#blockedAt === this.limit) this.blockedPending = true;
  }

  /** Forget that a blocked frame was sent (its packet was discarded). */
  resetBlocked(): void {
    this.#blockedAt = -1;
    this.blockedPending = false;
  }
}

export interface ReceiveWindowOptions {
  /** Initial window (the transport parameter we sent). */
  initial: number;
  /** Auto-tuning never grows the window beyond this. */
  max: number;
  /** Frame type reported in FLOW_CONTROL_ERROR. */
  frameType?: number;
}

/**
 * The limit we advertise to the peer. `received` is the highest offset (stream) or the sum of
 * highest offsets (connection); `consumed` what the application has read (or was discarded).
 */
export class ReceiveWindow {
  window: number;
  readonly maxWindow: number;
  /** The limit advertised to the peer (initial, then MAX_DATA / MAX_STREAM_DATA). */
  advertised: number;
  received = 0;
  consumed = 0;
  /** A MAX_DATA / MAX_STREAM_DATA carrying `advertised` should be sent. */
  updatePending = false;
  #lastUpdate: Instant | undefined;
  readonly #frameType: number;

  constructor(opts: ReceiveWindowOptions, now?: Instant) {
    this.window = opts.initial;
    this.maxWindow = Math.max(opts.max, opts.initial);
    this.advertised = opts.initial;
    this.#frameType = opts.frameType ?? 0x08;
    this.#lastUpdate = now;
  }

  /** Records data up to absolute offset `end`; returns by how much `received` grew. */
  onReceivedUpTo(end: number, frameType = this.#frameType): number {
    if (end <= this.received) return 0;
    // RFC 9000 §4.1: exceeding the advertised limit is a FLOW_CONTROL_ERROR.
    if (end > this.advertised) {
      throw new TransportError(
        TransportErrorCode.FLOW_CONTROL_ERROR,
        'flow control limit exceeded',
        frameType,
      );
    }
    const delta = end - this.received;
    this.received = end;
    return delta;
  }

  /** Records `n` more octets received (connection level: growth of a stream's highest offset). */
  onReceived(n: number, frameType = this.#frameType): void {
    if (n <= 0) return;
    // RFC 9000 §4.1, §19.9
    if (this.received + n > this.advertised) {
      throw new TransportError(
        TransportErrorCode.FLOW_CONTROL_ERROR,
        'connection flow control limit exceeded',
        frameType,
      );
    }
    this.received += n;
  }

  /**
   * The application consumed `n` octets. When more than half the window has been consumed
   * since the last advertisement, a larger limit is queued; if that happened within two
   * smoothed RTTs of the previous update, the window doubles (up to the maximum).
   * Returns true when an update became pending.
   */
  onConsumed(n: number, now: Instant, smoothedRtt: Duration): boolean {
    this.consumed += n;
    if (this.advertised - this.consumed > this.window / 2) return false;
    if (
      this.#lastUpdate !== undefined &&
      now - this.#lastUpdate < 2 * smoothedRtt &&
      this.window < this.maxWindow
    ) {
      this.window = Math.min(this.window * 2, this.maxWindow);
    }
    this.#lastUpdate = now;
    const next = this.consumed + this.window;
    if (next <= this.advertised) return false;
    this.advertised = next;
    this.updatePending = true;
    return true;
  }

  /** Grows the window to at least `size` (bounded by the maximum), e.g. connection after stream. */
  ensureWindow(size: number): void {
    if (size > this.window) this.window = Math.min(size, this.maxWindow);
  }

  /** The value to put in the frame being written. */
  takeUpdate(): number {
    this.updatePending = false;
    return this.advertised;
  }

  /** RFC 9000 §13.3: a lost update is resent with the current value. */
  onUpdateLost(): void {
    this.updatePending = true;
  }
}
