// The stream transport HTTP/3 runs on. The QUIC connection adapter implements it and feeds
// stream events back through the h3 classes' handleStreamData/handleStreamReset/handleStopSending.

export interface H3Transport {
  readonly role: 'client' | 'server';
  openStream(bidi: boolean): number; // returns a new local stream ID; throws if the peer's stream limit is reached (the lead makes that rare)
  write(streamId: number, data: Uint8Array, fin: boolean): void; // queues; the transport buffers
  resetStream(streamId: number, errorCode: number): void;
  stopSending(streamId: number, errorCode: number): void;
  close(errorCode: number, reason: string): void; // CONNECTION_CLOSE with an application error code (H3_*)
}

/** RFC 9000 §2.1: bit 0 of a stream ID is the initiator (0 client), bit 1 the direction (1 uni). */
export function isUniStream(streamId: number): boolean {
  return (streamId & 2) !== 0;
}

export function isClientInitiated(streamId: number): boolean {
  return (streamId & 1) === 0;
}
