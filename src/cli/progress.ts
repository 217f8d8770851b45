// A one-line progress bar on a TTY (stderr), redrawn at most 10 times per second.
import { formatBytes, formatRate } from './format.js';

export class ProgressBar {
  readonly #out: NodeJS.WriteStream;
  readonly #t0 = performance.now();
  #total: number | undefined;
  #done = 0;
  #files = 0;
  #filesDone = 0;
  #last = 0;
  #drawn = false;

  constructor(out: NodeJS.WriteStream) {
    this.#out = out;
  }

  /** Whether a bar can be drawn on `out`. */
  static enabled(out: NodeJS.WriteStream): boolean {
    return out.isTTY === true && process.env['TERM'] !== 'dumb';
  }

  addFile(length: number | undefined): void {
    this.#files++;
    if (length === undefined) this.#total = undefined;
    else if (this.#files === 1 || this.#total !== undefined) this.#total = (this.#total ?? 0) + length;
  }

  fileDone(): void {
    this.#filesDone++;
    this.#draw(true);
  }

  add(n: number): void {
    this.#done += n;
    this.#draw(false);
  }

  /** Erases the bar (before other output, or at the end). */
  clear(): void {
    if (!this.#drawn) return;
    this.#out.write('\r\x1b[K');
    this.#drawn = false;
  }

  #draw(force: boolean): void {
    const now = performance.now();
    if (!force && now - this.#last < 100) return;
    this.#last = now;
    const width = Math.max(10, Math.min(40, (this.#out.columns ?? 80) - 60));
    const rate = formatRate(this.#done, now - this.#t0);
    let bar: string;
    if (this.#total) {
      const f = Math.min(1, this.#done / this.#total);
      const fill = Math.round(f * width);
      bar = `[${'#'.repeat(fill)}${'.'.repeat(width - fill)}] ${(f * 100).toFixed(0).padStart(3)}%`;
    } else {
      bar = `[${'?'.repeat(width)}]`;
    }
    const files = this.#files > 1 ? ` ${this.#filesDone}/${this.#files} files` : '';
    this.#out.write(`\r\x1b[K${bar} ${formatBytes(this.#done)} ${rate}${files}`);
    this.#drawn = true;
  }
}
