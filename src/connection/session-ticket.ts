// What a client keeps to resume a connection: the TLS ticket plus the server's transport
// parameters, which 0-RTT must respect (RFC 9000 §7.4.1). Serialized as one opaque blob.
import { TransportError, TransportErrorCode } from '../common/errors.js';
import { deserializeSessionTicket, type SessionTicket, serializeSessionTicket } from '../tls/tickets.js';
import { BufferReader } from '../wire/reader.js';
import {
  decodeTransportParameters,
  encodeTransportParameters,
  type TransportParameters,
} from '../wire/transport-params.js';
import { BufferWriter } from '../wire/writer.js';

const FORMAT = 1;

export interface ResumptionState {
  readonly ticket: SessionTicket;
  readonly parameters: TransportParameters | undefined;
}

export function encodeSessionTicket(
  ticket: SessionTicket,
  serverParameters: TransportParameters | undefined,
): Uint8Array {
  const w = new BufferWriter(512);
  w.u8(FORMAT);
  w.block(2, () => w.bytes(serializeSessionTicket(ticket)));
  w.block(2, () => {
    if (serverParameters) w.bytes(encodeTransportParameters(serverParameters, { role: 'server' }));
  });
  return w.finish();
}

/** Throws TransportError(INTERNAL_ERROR) when the blob is not one of ours. */
export function decodeSessionTicket(blob: Uint8Array): ResumptionState {
  const r = new BufferReader(blob, 0, blob.length, TransportErrorCode.INTERNAL_ERROR);
  if (r.u8() !== FORMAT)
    throw new TransportError(TransportErrorCode.INTERNAL_ERROR, 'unknown session ticket format');
  const ticket = deserializeSessionTicket(r.bytes(r.u16()));
  const tp = r.bytes(r.u16());
  return { ticket, parameters: tp.length > 0 ? decodeTransportParameters(tp, 'server') : undefined };
}
