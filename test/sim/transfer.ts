// A download application for scenario tests: the client asks for N bytes on a bidirectional
// stream, the server sends a deterministic payload, the client hashes what arrives.
import type { Connection } from '../../src/connection/connection.js';
import { Events, type Payload, type QuicSim, StreamReader, StreamWriter } from './quic.js';

export interface DownloadResult {
  readonly bytes: number;
  /** When the server started sending the response (its stream opened). */
  readonly serverStartedAt: number;
  readonly expected: string;
  readonly received: string | undefined;
  readonly startedAt: number;
  readonly finishedAt: number;
}

/** When the server began each response, by stream ID (for goodput measured from the first byte sent). */
export const responseStarts = new Map<number, number>();

/** Serves downloads: every client bidi stream gets `size` bytes of the payload. */
export function serveDownloads(q: QuicSim, payload: Payload): void {
  const writers = new Map<Connection, Map<number, StreamWriter>>();
  const events = new Map<Connection, Events>();
  q.onServerActivity = () => {
    for (const conn of q.accepted) {
      let ws = writers.get(conn);
      if (!ws) writers.set(conn, (ws = new Map()));
      let ev = events.get(conn);
      if (!ev) events.set(conn, (ev = new Events(conn)));
      for (const e of ev.drain()) {
        if (e.type === 'stream-opened' && (e.id & 3) === 0) {
          responseStarts.set(e.id, q.now);
          const w = new StreamWriter(conn, e.id, payload);
          ws.set(e.id, w);
        } else if (e.type === 'stream-readable') {
          // Drain the (empty) request.
          while (conn.readStream(e.id)) {}
        }
      }
      for (const w of ws.values()) if (!w.done && conn.state === 'established') w.pump();
    }
  };
}

/** Starts a download on `conn`; returns a probe to poll for completion. */
export function startDownload(
  q: QuicSim,
  conn: Connection,
  payload: Payload,
): { result(): DownloadResult | undefined; reader: StreamReader } {
  const id = conn.openStream(true);
  if (id === undefined) throw new Error('stream limit');
  conn.writeStream(id, new Uint8Array([0x47]), true);
  const reader = new StreamReader(conn, id);
  const startedAt = q.now;
  let finishedAt = 0;
  const prev = q.onClientActivity;
  q.onClientActivity = (now) => {
    prev?.(now);
    reader.pump();
    if (reader.finished && finishedAt === 0) finishedAt = now;
  };
  const expected = payload.sha256();
  return {
    reader,
    result: () =>
      reader.finished
        ? {
            bytes: reader.received,
            expected,
            received: reader.digest,
            startedAt,
            finishedAt,
            serverStartedAt: responseStarts.get(id) ?? startedAt,
          }
        : undefined,
  };
}
