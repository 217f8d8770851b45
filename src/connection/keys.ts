// Packet protection keys per encryption level and the 1-RTT key phase (RFC 9001 §5, §6).
import { type Instant, NEVER } from '../common/time.js';
import { type CipherSuite, cipherSuiteInfo } from '../protection/cipher-suites.js';
import { deriveNextPacketKeys, derivePacketKeys, type PacketKeys } from '../protection/packet-keys.js';

export interface LevelKeys {
  read: PacketKeys | undefined;
  write: PacketKeys | undefined;
}

/**
 * 1-RTT keys with key update (RFC 9001 §6). Keeps current, next (precomputed, §6.3) and
 * previous read keys (for reordered packets, discarded 3×PTO after the update, §6.5).
 */
export class OneRttKeys {
  readonly suite: CipherSuite;
  readonly version: number;
  /** Current key phase bit. */
  phase: 0 | 1 = 0;
  /** Number of key updates so far. */
  generation = 0;
  read!: PacketKeys;
  write: PacketKeys;
  nextRead!: PacketKeys;
  nextWrite: PacketKeys;
  prevRead: PacketKeys | undefined;
  /** When the previous read keys are dropped. */
  prevReadDiscardAt: Instant = NEVER;
  /** Lowest packet number received in the current phase (Infinity until one arrives). */
  firstReceivedPn = Number.POSITIVE_INFINITY;
  /** First packet number sent in the current phase (-1 until one is sent). */
  firstSentPn = -1;
  /** Packets sealed with the current write keys. */
  sentInPhase = 0;
  /** A packet of the current phase was acknowledged: another update may be initiated (§6.1). */
  currentPhaseAcked = false;
  /** The peer initiated the current phase and we have not yet acknowledged in it (§6.2). */
  awaitingAckOfUpdate = false;

  /** `readSecret` may come later (a server learns it after the client's Finished, RFC 9001 §5.7). */
  constructor(suite: CipherSuite, version: number, writeSecret: Uint8Array, readSecret?: Uint8Array) {
    this.suite = suite;
    this.version = version;
    this.write = derivePacketKeys(suite, writeSecret, version);
    this.nextWrite = deriveNextPacketKeys(this.write, version);
    if (readSecret) this.installRead(readSecret);
  }

  get hasRead(): boolean {
    return this.#hasRead;
  }

  #hasRead = false;

  installRead(readSecret: Uint8Array): void {
    this.read = derivePacketKeys(this.suite, readSecret, this.version);
    this.nextRead = deriveNextPacketKeys(this.read, this.version);
    this.#hasRead = true;
  }

  /**
   * Read keys for a packet with key phase `bit` and packet number `pn` (RFC 9001 §6.5):
   * a different phase bit means the previous keys for packets older than the current phase,
   * otherwise the next keys (a key update by the peer).
   */
  readKeysFor(bit: number, pn: number): { keys: PacketKeys; which: 'current' | 'previous' | 'next' } {
    if (bit === this.phase) return { keys: this.read, which: 'current' };
    if (this.prevRead !== undefined && pn < this.firstReceivedPn)
      return { keys: this.prevRead, which: 'previous' };
    return { keys: this.nextRead, which: 'next' };
  }

  /** readKeysFor(bit, pn).keys without the result object (per received packet). */
  readKeys(bit: number, pn: number): PacketKeys {
    if (bit === this.phase) return this.read;
    if (this.prevRead !== undefined && pn < this.firstReceivedPn) return this.prevRead;
    return this.nextRead;
  }

  /** Moves to the next key phase (either side initiating). */
  rotate(now: Instant, discardDelay: number): void {
    this.prevRead = this.read;
    this.prevReadDiscardAt = now + discardDelay;
    this.read = this.nextRead;
    this.write = this.nextWrite;
    this.nextRead = deriveNextPacketKeys(this.read, this.version);
    this.nextWrite = deriveNextPacketKeys(this.write, this.version);
    this.phase = this.phase === 0 ? 1 : 0;
    this.generation++;
    this.firstReceivedPn = Number.POSITIVE_INFINITY;
    this.firstSentPn = -1;
    this.sentInPhase = 0;
    this.currentPhaseAcked = false;
  }

  discardPrevious(): void {
    this.prevRead = undefined;
    this.prevReadDiscardAt = NEVER;
  }

  /** RFC 9001 §6.6: packets one key may protect; updates start well before. */
  get confidentialityLimit(): number {
    return cipherSuiteInfo(this.suite).confidentialityLimit;
  }

  get integrityLimit(): number {
    return cipherSuiteInfo(this.suite).integrityLimit;
  }
}
