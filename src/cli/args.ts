// Argument parsing helpers of the CLI: typed errors that map to exit codes, and validators of
// option values that throw UsageError with a one-line message.
import { readFileSync } from 'node:fs';
import { parseSocketAddress, type SocketAddress } from '../common/addr.js';
import type { CipherSuite } from '../tls/constants.js';

/** Exit codes of the CLI. */
export const ExitCode = { ok: 0, failure: 1, usage: 2 } as const;

/** Bad command line: printed with a hint to --help, exit code 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}

/** Runtime or protocol failure: printed as one line, exit code 1. */
export class CliError extends Error {
  override name = 'CliError';
}

/** `addr:port` or `[v6]:port` with an IP literal. */
export function parseAddress(flag: string, text: string): SocketAddress {
  let a: SocketAddress;
  try {
    a = parseSocketAddress(text);
  } catch {
    throw new UsageError(`${flag}: expected ADDRESS:PORT (e.g. 127.0.0.1:4433 or [::1]:4433), got '${text}'`);
  }
  if (!/^[0-9.]+$/.test(a.address) && !a.address.includes(':')) {
    throw new UsageError(`${flag}: '${a.address}' is not an IP address`);
  }
  return a;
}

export function parseInteger(flag: string, text: string, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (!/^\d+$/.test(text.trim())) throw new UsageError(`${flag}: expected an integer, got '${text}'`);
  const n = Number(text);
  if (n < min || n > max) throw new UsageError(`${flag}: must be between ${min} and ${max}, got ${n}`);
  return n;
}

export function parseChoice<T extends string>(flag: string, text: string, choices: readonly T[]): T {
  if (!(choices as readonly string[]).includes(text)) {
    throw new UsageError(`${flag}: expected one of ${choices.join(', ')}, got '${text}'`);
  }
  return text as T;
}

const SUITES: Record<string, CipherSuite> = {
  'aes128-gcm': 0x1301,
  tls_aes_128_gcm_sha256: 0x1301,
  'aes256-gcm': 0x1302,
  tls_aes_256_gcm_sha384: 0x1302,
  chacha20: 0x1303,
  'chacha20-poly1305': 0x1303,
  tls_chacha20_poly1305_sha256: 0x1303,
};

export const SUITE_NAMES: Record<number, string> = {
  4865: 'TLS_AES_128_GCM_SHA256',
  4866: 'TLS_AES_256_GCM_SHA384',
  4867: 'TLS_CHACHA20_POLY1305_SHA256',
};

/** Comma-separated cipher suites: aes128-gcm, aes256-gcm, chacha20 (or the TLS names). */
export function parseCipherSuites(flag: string, text: string): CipherSuite[] {
  const out: CipherSuite[] = [];
  for (const name of text.split(',')) {
    const s = SUITES[name.trim().toLowerCase()];
    if (s === undefined) {
      throw new UsageError(`${flag}: unknown cipher suite '${name}' (aes128-gcm, aes256-gcm, chacha20)`);
    }
    if (!out.includes(s)) out.push(s);
  }
  return out;
}

/** Reads a text file given on the command line; a one-line CliError when it cannot. */
export function readTextFile(flag: string, path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (e) {
    throw new CliError(`${flag}: cannot read ${path}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
  }
}

/** Message of an error without its stack, on one line. */
export function oneLine(e: unknown): string {
  const msg = e instanceof Error ? e.message : String(e);
  return msg.replace(/\s*\n\s*/g, ' ').trim();
}
