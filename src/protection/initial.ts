// Initial secrets and keys from the client's first Destination Connection ID (RFC 9001 §5.2,
// RFC 9369 §3.3.1). Always AEAD_AES_128_GCM with SHA-256.
import { fromHex } from '../common/bytes.js';
import { QUIC_V1, QUIC_V2 } from '../wire/versions.js';
import { hkdfExpandLabel, hkdfExtract } from './hkdf.js';
import { derivePacketKeys, type PacketKeys } from './packet-keys.js';

const V1_SALT = fromHex('38762cf7f55934b34d179ae6a4c80cadccbb7f0a'); // RFC 9001 §5.2
const V2_SALT = fromHex('0dede3def700a6db819381be6e269dcbf9bd2ed9'); // RFC 9369 §3.3.1
const EMPTY = new Uint8Array(0);

export const INITIAL_SUITE = 0x1301;

export function initialSalt(version: number): Uint8Array {
  if (version === QUIC_V1) return V1_SALT;
  if (version === QUIC_V2) return V2_SALT;
  throw new RangeError(`unsupported QUIC version 0x${version.toString(16)}`);
}

export interface InitialSecrets {
  readonly client: Uint8Array;
  readonly server: Uint8Array;
}

export interface InitialKeys {
  readonly client: PacketKeys;
  readonly server: PacketKeys;
}

/** RFC 9001 §5.2: HKDF-Extract(salt, dcid), then "client in" / "server in" (32 octets). */
export function deriveInitialSecrets(version: number, dcid: Uint8Array): InitialSecrets {
  const initialSecret = hkdfExtract('sha256', initialSalt(version), dcid);
  return {
    client: hkdfExpandLabel('sha256', initialSecret, 'client in', EMPTY, 32),
    server: hkdfExpandLabel('sha256', initialSecret, 'server in', EMPTY, 32),
  };
}

/** Initial packet keys of both directions (RFC 9001 §5.2, §5.4.1: AES header protection). */
export function deriveInitialKeys(version: number, dcid: Uint8Array): InitialKeys {
  const s = deriveInitialSecrets(version, dcid);
  return {
    client: derivePacketKeys(INITIAL_SUITE, s.client, version),
    server: derivePacketKeys(INITIAL_SUITE, s.server, version),
  };
}
