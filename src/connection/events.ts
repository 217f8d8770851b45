// Events a connection reports to the application (pollEvent) and to its endpoint (pollEndpointEvent).
import type { Path } from '../common/addr.js';

/** Why a connection ended. */
export interface CloseInfo {
  /** Who ended it: we did, the peer did, the idle timer, or a stateless reset from the peer. */
  readonly source: 'local' | 'remote' | 'idle' | 'stateless-reset' | 'internal';
  /** True for an application CONNECTION_CLOSE (type 0x1d), false for a transport error (0x1c). */
  readonly application: boolean;
  readonly code: number;
  readonly frameType: number;
  readonly reason: string;
}

export type PathEventReason = 'timeout' | 'abandoned' | 'no-connection-id' | 'superseded';

export type ConnectionEvent =
  /** Client: TLS finished, 1-RTT keys in place. Server: handshake confirmed. */
  | { readonly type: 'handshake-complete'; readonly alpn: string | undefined; readonly resumed: boolean }
  /** Handshake confirmed (RFC 9001 §4.1.2); migration becomes possible. */
  | { readonly type: 'handshake-confirmed' }
  | { readonly type: 'early-data'; readonly accepted: boolean }
  | { readonly type: 'session-ticket'; readonly ticket: Uint8Array }
  | { readonly type: 'new-token'; readonly token: Uint8Array }
  | { readonly type: 'stream-opened'; readonly id: number }
  | { readonly type: 'stream-readable'; readonly id: number }
  | { readonly type: 'stream-writable'; readonly id: number }
  | {
      readonly type: 'stream-reset';
      readonly id: number;
      readonly errorCode: number;
      readonly finalSize: number;
    }
  | { readonly type: 'stream-stop-sending'; readonly id: number; readonly errorCode: number }
  | { readonly type: 'stream-finished'; readonly id: number }
  | { readonly type: 'streams-available'; readonly bidi: boolean }
  | { readonly type: 'datagram'; readonly data: Uint8Array }
  /** A path probe succeeded (PATH_RESPONSE matched); `rtt` is the challenge's round-trip sample (µs). */
  | { readonly type: 'path-validated'; readonly pathId: number; readonly path: Path; readonly rtt: number }
  | {
      readonly type: 'path-failed';
      readonly pathId: number;
      readonly path: Path;
      readonly reason: PathEventReason;
    }
  /** We moved our active path (client migration or following a preferred address). */
  | {
      readonly type: 'migrated';
      readonly pathId: number;
      readonly from: Path;
      readonly to: Path;
      readonly preferredAddress: boolean;
    }
  /** The peer's address changed and we followed it (server: NAT rebinding or client migration). */
  | { readonly type: 'peer-migrated'; readonly pathId: number; readonly from: Path; readonly to: Path }
  | { readonly type: 'key-update'; readonly phase: number; readonly initiator: 'local' | 'remote' }
  | { readonly type: 'closed'; readonly info: CloseInfo };

export type EndpointEvent =
  /** Route packets with this DCID to the connection. */
  | { readonly type: 'cid-issued'; readonly cid: Uint8Array; readonly resetToken: Uint8Array | undefined }
  /** Stop routing this DCID. */
  | { readonly type: 'cid-retired'; readonly cid: Uint8Array }
  /** All state can be dropped: the connection is closed and drained. */
  | { readonly type: 'drained' };
