// qlog output (draft-ietf-quic-qlog-main-schema, JSON-SEQ serialization, RFC 7464): one file
// per connection, `<dir>/<odcid>_<role>.sqlog`, the naming of the QUIC interop runner. Each
// record is RS (0x1e) + JSON + LF; the first is the header, then one record per event with
// `time` in milliseconds relative to `reference_time`. Records are buffered and written in
// batches; close() flushes.
import { createWriteStream, mkdirSync, type WriteStream } from 'node:fs';
import { join } from 'node:path';
import type { QlogSink } from '../common/qlog.js';
import type { Instant } from '../common/time.js';

const FLUSH_BYTES = 256 * 1024;

export interface QlogFileOptions {
  dir: string;
  role: 'client' | 'server';
  odcid: Uint8Array;
  /** Core clock (µs) at which the trace starts: event times are relative to it. */
  start: Instant;
  /** Wall clock (unix ms) of `start`. */
  referenceTime: number;
  title?: string;
}

export class QlogFileSink implements QlogSink {
  readonly path: string;
  readonly odcid: string;
  readonly role: 'client' | 'server';
  readonly #start: Instant;
  #chunks: string[] = [];
  #buffered = 0;
  #stream: WriteStream | undefined;
  #closed = false;
  /** Events recorded. */
  events = 0;

  constructor(o: QlogFileOptions) {
    this.odcid = Buffer.from(o.odcid.buffer, o.odcid.byteOffset, o.odcid.byteLength).toString('hex');
    this.role = o.role;
    this.path = join(o.dir, `${this.odcid}_${o.role}.sqlog`);
    this.#start = o.start;
    this.#push({
      qlog_version: '0.3',
      qlog_format: 'JSON-SEQ',
      title: o.title ?? `feather-quic ${o.role} ${this.odcid}`,
      trace: {
        vantage_point: { type: o.role, name: 'feather-quic' },
        common_fields: {
          ODCID: this.odcid,
          time_format: 'relative',
          reference_time: o.referenceTime,
          protocol_type: ['QUIC', 'HTTP3'],
        },
      },
    });
  }

  event(time: Instant, name: string, data: Record<string, unknown>): void {
    if (this.#closed) return;
    this.events++;
    this.#push({ time: Math.round(time - this.#start) / 1000, name, data });
  }

  #push(record: unknown): void {
    let json: string;
    try {
      json = JSON.stringify(record, replacer);
    } catch {
      return;
    }
    const line = `\x1e${json}\n`;
    this.#chunks.push(line);
    this.#buffered += line.length;
    if (this.#buffered >= FLUSH_BYTES) this.#flush();
  }

  #flush(): void {
    if (this.#chunks.length === 0) return;
    if (!this.#stream) {
      this.#stream = createWriteStream(this.path);
      this.#stream.on('error', () => {});
    }
    this.#stream.write(this.#chunks.join(''));
    this.#chunks = [];
    this.#buffered = 0;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Writes what is buffered and closes the file. */
  close(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    this.#flush();
    this.#closed = true;
    const s = this.#stream;
    this.#stream = undefined;
    if (!s) return Promise.resolve();
    return new Promise((resolve) => {
      s.end(() => resolve());
      s.once('error', () => resolve());
    });
  }
}

/** Octet arrays as hex, bigints as numbers (JSON has neither). */
function replacer(_key: string, v: unknown): unknown {
  if (v instanceof Uint8Array) return Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('hex');
  if (typeof v === 'bigint') return Number(v);
  // Buffer.prototype.toJSON ran first.
  if (
    typeof v === 'object' &&
    v !== null &&
    (v as { type?: unknown }).type === 'Buffer' &&
    Array.isArray((v as { data?: unknown }).data)
  ) {
    return Buffer.from((v as { data: number[] }).data).toString('hex');
  }
  return v;
}

/** Creates the qlog directory (recursively) once. */
export function ensureDir(dir: string): void {
  mkdirSync(dir, { recursive: true });
}
