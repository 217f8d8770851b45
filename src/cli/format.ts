// Formatting of sizes, rates and addresses for the CLI's output.
import type { Path, SocketAddress } from '../common/addr.js';

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  if (n < 1024 * 1024 * 1024) return `${(n / 1024 / 1024).toFixed(1)} MiB`;
  return `${(n / 1024 / 1024 / 1024).toFixed(2)} GiB`;
}

/** Bits per second from octets and milliseconds. */
export function formatRate(bytes: number, ms: number): string {
  if (ms <= 0) return '-';
  const bps = (bytes * 8) / (ms / 1000);
  if (bps >= 1e9) return `${(bps / 1e9).toFixed(2)} Gbit/s`;
  if (bps >= 1e6) return `${(bps / 1e6).toFixed(1)} Mbit/s`;
  return `${(bps / 1e3).toFixed(1)} kbit/s`;
}

export function formatAddress(a: SocketAddress): string {
  return a.address.includes(':') ? `[${a.address}]:${a.port}` : `${a.address}:${a.port}`;
}

export function formatPath(p: Path): string {
  return `${formatAddress(p.local)} -> ${formatAddress(p.remote)}`;
}

export function formatMs(ms: number): string {
  return ms < 10 ? `${ms.toFixed(2)} ms` : `${ms.toFixed(1)} ms`;
}

export function versionName(v: number): string {
  if (v === 1) return 'QUIC v1';
  if (v === 0x6b3343cf) return 'QUIC v2';
  return `0x${v.toString(16).padStart(8, '0')}`;
}

/** A logger that prefixes lines with the time since it was created. */
export class Log {
  readonly #t0 = performance.now();
  readonly #out: NodeJS.WritableStream;
  readonly quiet: boolean;
  /** Called before each line (e.g. to clear a progress bar). */
  beforeLine: (() => void) | undefined;

  constructor(out: NodeJS.WritableStream = process.stdout, quiet = false) {
    this.#out = out;
    this.quiet = quiet;
  }

  get elapsedMs(): number {
    return performance.now() - this.#t0;
  }

  info(msg: string): void {
    if (this.quiet) return;
    this.beforeLine?.();
    this.#out.write(`[${(this.elapsedMs / 1000).toFixed(3).padStart(7)}s] ${msg}\n`);
  }

  /** Printed even when quiet (results). */
  result(msg: string): void {
    this.beforeLine?.();
    this.#out.write(`${msg}\n`);
  }
}
