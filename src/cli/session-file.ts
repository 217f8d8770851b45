// Session file of `feather-quic client --session-file`: the TLS session ticket (which carries
// what 0-RTT needs) and the NEW_TOKEN token of the last connection, as JSON. Read before
// connecting (resumption, 0-RTT), written after.
import { readFileSync, writeFileSync } from 'node:fs';

export interface SavedSession {
  /** host:port the ticket was issued by. */
  server: string;
  alpn: string;
  ticket: Uint8Array;
  token: Uint8Array | undefined;
  savedAt: number;
}

/** The saved session for `server`/`alpn`, or undefined (missing, unreadable or another server). */
export function readSession(path: string, server: string, alpn: string): SavedSession | undefined {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch {
    return undefined;
  }
  if (typeof raw !== 'object' || raw === null) return undefined;
  const o = raw as Record<string, unknown>;
  if (o['server'] !== server || o['alpn'] !== alpn || typeof o['ticket'] !== 'string') return undefined;
  const ticket = new Uint8Array(Buffer.from(o['ticket'], 'base64'));
  if (ticket.length === 0) return undefined;
  const token =
    typeof o['token'] === 'string' && o['token'].length > 0
      ? new Uint8Array(Buffer.from(o['token'], 'base64'))
      : undefined;
  return { server, alpn, ticket, token, savedAt: typeof o['savedAt'] === 'number' ? o['savedAt'] : 0 };
}

export function writeSession(path: string, s: SavedSession): void {
  const json = {
    server: s.server,
    alpn: s.alpn,
    ticket: Buffer.from(s.ticket).toString('base64'),
    token: s.token ? Buffer.from(s.token).toString('base64') : '',
    savedAt: s.savedAt,
  };
  writeFileSync(path, `${JSON.stringify(json, null, 2)}\n`, { mode: 0o600 });
}
