// SSLKEYLOGFILE writer (NSS key log format, one `LABEL client_random secret` line per secret),
// appended to the file through a buffered write stream and flushed on close.
import { createWriteStream, type WriteStream } from 'node:fs';

export class KeyLogWriter {
  readonly path: string;
  #stream: WriteStream | undefined;
  #closed = false;
  /** Lines written so far. */
  lines = 0;

  constructor(path: string) {
    this.path = path;
  }

  write(line: string): void {
    if (this.#closed) return;
    if (!this.#stream) {
      this.#stream = createWriteStream(this.path, { flags: 'a' });
      // A key log must never take the process down.
      this.#stream.on('error', () => {});
    }
    this.#stream.write(`${line}\n`);
    this.lines++;
  }

  /** Flushes and closes the file. */
  close(): Promise<void> {
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
