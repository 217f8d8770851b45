// Encoding and decoding of TLS 1.3 handshake messages (RFC 8446 §4) as used by QUIC.
// Decoders take untrusted bytes and throw only TransportError: truncation and malformed vectors
// are decode_error (RFC 8446 §6.2), semantically wrong values illegal_parameter.
import { concatBytes } from '../common/bytes.js';
import { BufferWriter } from '../wire/writer.js';
import { decodeError, illegalParameter, tlsReader } from './alerts.js';
import { ExtensionType, HandshakeType, HRR_RANDOM } from './constants.js';

type Reader = ReturnType<typeof tlsReader>;

export interface Extension {
  readonly type: number;
  readonly data: Uint8Array;
}

/** Extensions in wire order; duplicates were rejected while decoding. */
export class ExtensionList {
  readonly items: Extension[];
  readonly #byType = new Map<number, Uint8Array>();

  constructor(items: Extension[]) {
    this.items = items;
    for (const e of items) {
      // RFC 8446 §4.2: no more than one extension of the same type in a block.
      if (this.#byType.has(e.type)) throw illegalParameter(`duplicate extension ${e.type}`);
      this.#byType.set(e.type, e.data);
    }
  }

  get(type: number): Uint8Array | undefined {
    return this.#byType.get(type);
  }

  has(type: number): boolean {
    return this.#byType.has(type);
  }

  get last(): number | undefined {
    return this.items[this.items.length - 1]?.type;
  }
}

function readExtensions(r: Reader): ExtensionList {
  const block = r.sub(r.u16());
  const items: Extension[] = [];
  while (!block.done) {
    const type = block.u16();
    const data = block.copy(block.u16());
    items.push({ type, data });
  }
  return new ExtensionList(items);
}

function writeExtensions(w: BufferWriter, exts: readonly Extension[]): void {
  w.block(2, () => {
    for (const e of exts) {
      w.u16(e.type);
      w.block(2, () => w.bytes(e.data));
    }
  });
}

function expectEnd(r: Reader, what: string): void {
  if (!r.done) throw decodeError(`trailing bytes in ${what}`);
}

/** One flight from several messages. */
export function concatMessages(msgs: readonly Uint8Array[]): Uint8Array {
  return msgs.length === 1 ? msgs[0]! : concatBytes(...msgs);
}

/** Wraps a body into a handshake message: type, uint24 length, body (RFC 8446 §4). */
export function handshakeMessage(type: number, body: Uint8Array): Uint8Array {
  const out = new Uint8Array(4 + body.length);
  out[0] = type;
  out[1] = body.length >>> 16;
  out[2] = body.length >>> 8;
  out[3] = body.length;
  out.set(body, 4);
  return out;
}

function finishMessage(type: number, w: BufferWriter): Uint8Array {
  const out = w.finish();
  const n = out.length - 4;
  out[0] = type;
  out[1] = n >>> 16;
  out[2] = n >>> 8;
  out[3] = n;
  return out;
}

function newMessageWriter(): BufferWriter {
  const w = new BufferWriter(512);
  w.reserve(4);
  return w;
}

// ---- Extension bodies ----

export interface KeyShareEntry {
  readonly group: number;
  readonly key: Uint8Array;
}

const textDecoder = new TextDecoder('utf-8', { fatal: false });
const textEncoder = new TextEncoder();

/** RFC 7301 §3.1 ProtocolNameList. */
export function decodeAlpn(data: Uint8Array): string[] {
  const r = tlsReader(data);
  const list = r.sub(r.u16());
  expectEnd(r, 'ALPN');
  const out: string[] = [];
  while (!list.done) {
    const n = list.u8();
    if (n === 0) throw decodeError('empty ALPN protocol name');
    out.push(textDecoder.decode(list.bytes(n)));
  }
  if (out.length === 0) throw decodeError('empty ALPN list');
  return out;
}

export function encodeAlpn(protocols: readonly string[]): Uint8Array {
  const w = new BufferWriter(64);
  w.block(2, () => {
    for (const p of protocols) {
      const b = textEncoder.encode(p);
      if (b.length === 0 || b.length > 255) throw new RangeError(`invalid ALPN protocol name: ${p}`);
      w.u8(b.length).bytes(b);
    }
  });
  return w.finish();
}

/** RFC 6066 §3 ServerNameList; returns the host_name (type 0), if any. */
export function decodeServerName(data: Uint8Array): string | undefined {
  const r = tlsReader(data);
  const list = r.sub(r.u16());
  expectEnd(r, 'server_name');
  if (list.done) throw decodeError('empty server_name list');
  let host: string | undefined;
  while (!list.done) {
    const type = list.u8();
    const name = list.bytes(list.u16());
    if (type !== 0) continue;
    if (host !== undefined) throw illegalParameter('duplicate host_name');
    if (name.length === 0) throw decodeError('empty host_name');
    for (const c of name) if (c <= 0x20 || c >= 0x7f) throw illegalParameter('invalid host_name');
    host = String.fromCharCode(...name);
  }
  return host;
}

export function encodeServerName(host: string): Uint8Array {
  const b = textEncoder.encode(host);
  const w = new BufferWriter(b.length + 5);
  w.block(2, () => {
    w.u8(0);
    w.block(2, () => w.bytes(b));
  });
  return w.finish();
}

/** A uint16 list with a one-octet (versions) or two-octet length. */
export function decodeU16List(data: Uint8Array, lenBytes: 1 | 2, what: string): number[] {
  const r = tlsReader(data);
  const list = r.sub(lenBytes === 1 ? r.u8() : r.u16());
  expectEnd(r, what);
  if (list.remaining === 0 || list.remaining % 2 !== 0) throw decodeError(`malformed ${what}`);
  const out: number[] = [];
  while (!list.done) out.push(list.u16());
  return out;
}

export function encodeU16List(values: readonly number[], lenBytes: 1 | 2): Uint8Array {
  const w = new BufferWriter(2 + values.length * 2);
  w.block(lenBytes, () => {
    for (const v of values) w.u16(v);
  });
  return w.finish();
}

export function decodeU8List(data: Uint8Array, what: string): number[] {
  const r = tlsReader(data);
  const list = r.bytes(r.u8());
  expectEnd(r, what);
  if (list.length === 0) throw decodeError(`empty ${what}`);
  return Array.from(list);
}

export function decodeClientKeyShares(data: Uint8Array): KeyShareEntry[] {
  const r = tlsReader(data);
  const list = r.sub(r.u16());
  expectEnd(r, 'key_share');
  const out: KeyShareEntry[] = [];
  while (!list.done) {
    const group = list.u16();
    const n = list.u16();
    if (n === 0) throw decodeError('empty key_exchange');
    out.push({ group, key: list.copy(n) });
  }
  return out;
}

export function encodeClientKeyShares(shares: readonly KeyShareEntry[]): Uint8Array {
  const w = new BufferWriter(128);
  w.block(2, () => {
    for (const s of shares) {
      w.u16(s.group);
      w.block(2, () => w.bytes(s.key));
    }
  });
  return w.finish();
}

export function decodeServerKeyShare(data: Uint8Array): KeyShareEntry {
  const r = tlsReader(data);
  const group = r.u16();
  const n = r.u16();
  if (n === 0) throw decodeError('empty key_exchange');
  const key = r.copy(n);
  expectEnd(r, 'key_share');
  return { group, key };
}

export function encodeServerKeyShare(share: KeyShareEntry): Uint8Array {
  const w = new BufferWriter(4 + share.key.length);
  w.u16(share.group).block(2, () => w.bytes(share.key));
  return w.finish();
}

export function decodeU16(data: Uint8Array, what: string): number {
  const r = tlsReader(data);
  const v = r.u16();
  expectEnd(r, what);
  return v;
}

function u16Bytes(v: number): Uint8Array {
  return new Uint8Array([v >>> 8, v & 0xff]);
}

function u32Bytes(v: number): Uint8Array {
  return new Uint8Array([v >>> 24, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff]);
}

export interface PskIdentity {
  readonly identity: Uint8Array;
  readonly obfuscatedAge: number;
}

export interface OfferedPsks {
  readonly identities: PskIdentity[];
  readonly binders: Uint8Array[];
}

/** RFC 8446 §4.2.11 OfferedPsks. */
export function decodeOfferedPsks(data: Uint8Array): OfferedPsks {
  const r = tlsReader(data);
  const ids = r.sub(r.u16());
  const identities: PskIdentity[] = [];
  while (!ids.done) {
    const n = ids.u16();
    if (n === 0) throw decodeError('empty PSK identity');
    identities.push({ identity: ids.copy(n), obfuscatedAge: ids.u32() });
  }
  const bs = r.sub(r.u16());
  expectEnd(r, 'pre_shared_key');
  const binders: Uint8Array[] = [];
  while (!bs.done) {
    const n = bs.u8();
    if (n < 32) throw decodeError('PSK binder too short');
    binders.push(bs.copy(n));
  }
  if (identities.length === 0) throw decodeError('no PSK identities');
  // RFC 8446 §4.2.11: one binder per identity.
  if (binders.length !== identities.length) throw illegalParameter('PSK binder count mismatch');
  return { identities, binders };
}

// ---- ClientHello (RFC 8446 §4.1.2) ----

export interface ClientHello {
  readonly legacyVersion: number;
  readonly random: Uint8Array;
  readonly sessionId: Uint8Array;
  readonly cipherSuites: number[];
  readonly compressionMethods: Uint8Array;
  readonly extensions: ExtensionList;
  /** Length of Truncate(ClientHello) (RFC 8446 §4.2.11.2), counted from the message header. */
  readonly truncatedLength: number | undefined;
}

/** Decodes a ClientHello body (without the 4-octet handshake header). */
export function decodeClientHello(body: Uint8Array): ClientHello {
  const r = tlsReader(body);
  const legacyVersion = r.u16();
  const random = r.copy(32);
  const sidLen = r.u8();
  if (sidLen > 32) throw decodeError('legacy_session_id too long');
  const sessionId = r.copy(sidLen);
  const csLen = r.u16();
  if (csLen < 2 || csLen % 2 !== 0) throw decodeError('malformed cipher_suites');
  const cs = r.sub(csLen);
  const cipherSuites: number[] = [];
  while (!cs.done) cipherSuites.push(cs.u16());
  const cmLen = r.u8();
  if (cmLen < 1) throw decodeError('empty legacy_compression_methods');
  const compressionMethods = r.copy(cmLen);
  const extensions = readExtensions(r);
  expectEnd(r, 'ClientHello');
  let truncatedLength: number | undefined;
  const psk = extensions.get(ExtensionType.PreSharedKey);
  if (psk !== undefined && psk.length >= 2) {
    // The binders list is the tail of the last extension (checked by the caller).
    const idsLen = (psk[0]! << 8) | psk[1]!;
    truncatedLength = 4 + body.length - (psk.length - 2 - idsLen);
  }
  return { legacyVersion, random, sessionId, cipherSuites, compressionMethods, extensions, truncatedLength };
}

export interface ClientHelloFields {
  readonly random: Uint8Array;
  readonly cipherSuites: readonly number[];
  readonly extensions: readonly Extension[];
  /** Identities for pre_shared_key (always last); binders are zero-filled placeholders. */
  readonly psk?: { readonly identities: readonly PskIdentity[]; readonly binderLength: number };
}

/**
 * Encodes a ClientHello message (with header). With a PSK, binders are placeholders of the right
 * length and `binderOffset` tells where the binders list starts (Truncate() length).
 */
export function encodeClientHello(f: ClientHelloFields): { message: Uint8Array; binderOffset: number } {
  const w = newMessageWriter();
  w.u16(0x0303).bytes(f.random);
  w.u8(0); // RFC 9001 §8.4: empty legacy_session_id (no middlebox compatibility mode).
  w.block(2, () => {
    for (const s of f.cipherSuites) w.u16(s);
  });
  w.u8(1).u8(0);
  let binderOffset = -1;
  w.block(2, () => {
    for (const e of f.extensions) {
      w.u16(e.type);
      w.block(2, () => w.bytes(e.data));
    }
    const psk = f.psk;
    if (psk) {
      // RFC 8446 §4.2.11: pre_shared_key MUST be the last extension.
      w.u16(ExtensionType.PreSharedKey);
      w.block(2, () => {
        w.block(2, () => {
          for (const id of psk.identities) {
            w.block(2, () => w.bytes(id.identity));
            w.u32(id.obfuscatedAge);
          }
        });
        binderOffset = w.offset;
        w.block(2, () => {
          for (let i = 0; i < psk.identities.length; i++) w.u8(psk.binderLength).zeros(psk.binderLength);
        });
      });
    }
  });
  return { message: finishMessage(HandshakeType.ClientHello, w), binderOffset };
}

/** Writes binders into an encoded ClientHello at `binderOffset` (see encodeClientHello). */
export function patchBinders(
  message: Uint8Array,
  binderOffset: number,
  binders: readonly Uint8Array[],
): void {
  let o = binderOffset + 2;
  for (const b of binders) {
    message[o++] = b.length;
    message.set(b, o);
    o += b.length;
  }
}

// ---- ServerHello / HelloRetryRequest (RFC 8446 §4.1.3, §4.1.4) ----

export interface ServerHello {
  readonly legacyVersion: number;
  readonly random: Uint8Array;
  readonly sessionIdEcho: Uint8Array;
  readonly cipherSuite: number;
  readonly compressionMethod: number;
  readonly extensions: ExtensionList;
  readonly isHelloRetryRequest: boolean;
}

export function decodeServerHello(body: Uint8Array): ServerHello {
  const r = tlsReader(body);
  const legacyVersion = r.u16();
  const random = r.copy(32);
  const sidLen = r.u8();
  if (sidLen > 32) throw decodeError('legacy_session_id_echo too long');
  const sessionIdEcho = r.copy(sidLen);
  const cipherSuite = r.u16();
  const compressionMethod = r.u8();
  const extensions = readExtensions(r);
  expectEnd(r, 'ServerHello');
  let isHelloRetryRequest = true;
  for (let i = 0; i < 32; i++) if (random[i] !== HRR_RANDOM[i]) isHelloRetryRequest = false;
  return {
    legacyVersion,
    random,
    sessionIdEcho,
    cipherSuite,
    compressionMethod,
    extensions,
    isHelloRetryRequest,
  };
}

export interface ServerHelloFields {
  readonly random: Uint8Array;
  readonly sessionIdEcho: Uint8Array;
  readonly cipherSuite: number;
  readonly extensions: readonly Extension[];
}

export function encodeServerHello(f: ServerHelloFields): Uint8Array {
  const w = newMessageWriter();
  w.u16(0x0303).bytes(f.random);
  w.u8(f.sessionIdEcho.length).bytes(f.sessionIdEcho);
  w.u16(f.cipherSuite).u8(0);
  writeExtensions(w, f.extensions);
  return finishMessage(HandshakeType.ServerHello, w);
}

export const ext = {
  supportedVersionsClient: (versions: readonly number[]): Extension => ({
    type: ExtensionType.SupportedVersions,
    data: encodeU16List(versions, 1),
  }),
  supportedVersionsServer: (version: number): Extension => ({
    type: ExtensionType.SupportedVersions,
    data: u16Bytes(version),
  }),
  selectedGroup: (group: number): Extension => ({ type: ExtensionType.KeyShare, data: u16Bytes(group) }),
  selectedIdentity: (index: number): Extension => ({
    type: ExtensionType.PreSharedKey,
    data: u16Bytes(index),
  }),
  earlyDataEmpty: (): Extension => ({ type: ExtensionType.EarlyData, data: new Uint8Array(0) }),
  earlyDataMax: (max: number): Extension => ({ type: ExtensionType.EarlyData, data: u32Bytes(max) }),
};

// ---- EncryptedExtensions (RFC 8446 §4.3.1) ----

export function decodeEncryptedExtensions(body: Uint8Array): ExtensionList {
  const r = tlsReader(body);
  const exts = readExtensions(r);
  expectEnd(r, 'EncryptedExtensions');
  return exts;
}

export function encodeExtensionsMessage(type: number, exts: readonly Extension[]): Uint8Array {
  const w = newMessageWriter();
  writeExtensions(w, exts);
  return finishMessage(type, w);
}

// ---- CertificateRequest (RFC 8446 §4.3.2) ----

export interface CertificateRequest {
  readonly context: Uint8Array;
  readonly extensions: ExtensionList;
}

export function decodeCertificateRequest(body: Uint8Array): CertificateRequest {
  const r = tlsReader(body);
  const context = r.copy(r.u8());
  const extensions = readExtensions(r);
  expectEnd(r, 'CertificateRequest');
  return { context, extensions };
}

export function encodeCertificateRequest(context: Uint8Array, exts: readonly Extension[]): Uint8Array {
  const w = newMessageWriter();
  w.u8(context.length).bytes(context);
  writeExtensions(w, exts);
  return finishMessage(HandshakeType.CertificateRequest, w);
}

// ---- Certificate (RFC 8446 §4.4.2) ----

export interface CertificateEntry {
  readonly data: Uint8Array;
  readonly extensions: ExtensionList;
}

export interface CertificateMessage {
  readonly context: Uint8Array;
  readonly entries: CertificateEntry[];
}

export function decodeCertificate(body: Uint8Array): CertificateMessage {
  const r = tlsReader(body);
  const context = r.copy(r.u8());
  const list = r.sub(r.u24());
  expectEnd(r, 'Certificate');
  const entries: CertificateEntry[] = [];
  while (!list.done) {
    const n = list.u24();
    if (n === 0) throw decodeError('empty cert_data');
    const data = list.copy(n);
    entries.push({ data, extensions: readExtensions(list) });
  }
  return { context, entries };
}

export function encodeCertificate(context: Uint8Array, certificates: readonly Uint8Array[]): Uint8Array {
  const w = newMessageWriter();
  w.u8(context.length).bytes(context);
  w.block(3, () => {
    for (const c of certificates) {
      w.block(3, () => w.bytes(c));
      w.u16(0);
    }
  });
  return finishMessage(HandshakeType.Certificate, w);
}

// ---- CertificateVerify (RFC 8446 §4.4.3) ----

export interface CertificateVerify {
  readonly scheme: number;
  readonly signature: Uint8Array;
}

export function decodeCertificateVerify(body: Uint8Array): CertificateVerify {
  const r = tlsReader(body);
  const scheme = r.u16();
  const signature = r.copy(r.u16());
  expectEnd(r, 'CertificateVerify');
  return { scheme, signature };
}

export function encodeCertificateVerify(scheme: number, signature: Uint8Array): Uint8Array {
  const w = newMessageWriter();
  w.u16(scheme).block(2, () => w.bytes(signature));
  return finishMessage(HandshakeType.CertificateVerify, w);
}

// ---- Finished (RFC 8446 §4.4.4) ----

export function decodeFinished(body: Uint8Array, hashLength: number): Uint8Array {
  if (body.length !== hashLength) throw decodeError('Finished has the wrong length');
  return body.slice();
}

// ---- NewSessionTicket (RFC 8446 §4.6.1) ----

export interface NewSessionTicket {
  readonly lifetime: number;
  readonly ageAdd: number;
  readonly nonce: Uint8Array;
  readonly ticket: Uint8Array;
  readonly extensions: ExtensionList;
}

export function decodeNewSessionTicket(body: Uint8Array): NewSessionTicket {
  const r = tlsReader(body);
  const lifetime = r.u32();
  const ageAdd = r.u32();
  const nonce = r.copy(r.u8());
  const n = r.u16();
  if (n === 0) throw decodeError('empty ticket');
  const ticket = r.copy(n);
  const extensions = readExtensions(r);
  expectEnd(r, 'NewSessionTicket');
  return { lifetime, ageAdd, nonce, ticket, extensions };
}

export function encodeNewSessionTicket(
  t: Omit<NewSessionTicket, 'extensions'>,
  exts: readonly Extension[],
): Uint8Array {
  const w = newMessageWriter();
  w.u32(t.lifetime).u32(t.ageAdd);
  w.u8(t.nonce.length).bytes(t.nonce);
  w.block(2, () => w.bytes(t.ticket));
  writeExtensions(w, exts);
  return finishMessage(HandshakeType.NewSessionTicket, w);
}

/** RFC 8446 §4.2.10: max_early_data_size of a NewSessionTicket early_data extension. */
export function decodeMaxEarlyData(data: Uint8Array): number {
  const r = tlsReader(data);
  const v = r.u32();
  expectEnd(r, 'early_data');
  return v;
}
