// TLS alerts as TransportErrors (RFC 9001 §4.8: CRYPTO_ERROR = 0x100 + alert).
import { cryptoError, type TransportError } from '../common/errors.js';
import { BufferReader } from '../wire/reader.js';
import { Alert } from './constants.js';

export { Alert };

/** TransportError code of a decode_error alert: what a BufferReader over TLS input throws. */
export const DECODE_ERROR_CODE = 0x100 + Alert.DecodeError;

export function tlsReader(buf: Uint8Array, offset = 0, end = buf.length): BufferReader {
  return new BufferReader(buf, offset, end, DECODE_ERROR_CODE);
}

export const decodeError = (reason: string): TransportError => cryptoError(Alert.DecodeError, reason);
export const illegalParameter = (reason: string): TransportError =>
  cryptoError(Alert.IllegalParameter, reason);
export const unexpectedMessage = (reason: string): TransportError =>
  cryptoError(Alert.UnexpectedMessage, reason);
export const missingExtension = (reason: string): TransportError =>
  cryptoError(Alert.MissingExtension, reason);
export const handshakeFailure = (reason: string): TransportError =>
  cryptoError(Alert.HandshakeFailure, reason);
export const decryptError = (reason: string): TransportError => cryptoError(Alert.DecryptError, reason);
export const unsupportedExtension = (reason: string): TransportError =>
  cryptoError(Alert.UnsupportedExtension, reason);
