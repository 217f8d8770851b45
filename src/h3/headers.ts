// HTTP field validation for HTTP/3 (RFC 9114 §4.2, §4.3, §4.1.2). Validators return a reason
// string when the message is malformed, so callers choose the consequence: H3_MESSAGE_ERROR for
// received messages, a TypeError for our own API's callers.
import type { FieldLine } from './qpack/types.js';

/** Fields as an application passes them: ordered pairs, or a record (arrays = repeated lines). */
export type HeadersInit =
  | readonly (readonly [string, string])[]
  | Readonly<Record<string, string | readonly string[]>>;

/** RFC 9114 §4.2: connection-specific fields make a message malformed. */
const CONNECTION_SPECIFIC = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'upgrade',
]);

const REQUEST_PSEUDO = new Set([':method', ':scheme', ':authority', ':path']);

// RFC 9110 §5.6.2 tchar, lowercase only (RFC 9114 §4.2: uppercase names are malformed).
const TOKEN = new Uint8Array(128);
for (const c of "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyz") TOKEN[c.charCodeAt(0)] = 1;
for (const c of 'ABCDEFGHIJKLMNOPQRSTUVWXYZ') TOKEN[c.charCodeAt(0)] = 2;

/** RFC 9110 §5.6.2 token (methods are case-sensitive tokens). */
export function isToken(s: string): boolean {
  if (s.length === 0) return false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 128 || TOKEN[c] === 0) return false;
  }
  return true;
}

/** Lowercases names (RFC 9114 §4.2) and flattens a record into field lines. */
export function toFieldLines(init: HeadersInit): FieldLine[] {
  const out: FieldLine[] = [];
  if (Array.isArray(init)) {
    for (const [n, v] of init as readonly (readonly [string, string])[])
      out.push([n.toLowerCase(), String(v)]);
    return out;
  }
  for (const [n, v] of Object.entries(init as Record<string, string | readonly string[]>)) {
    const name = n.toLowerCase();
    if (typeof v === 'string') out.push([name, v]);
    else for (const x of v) out.push([name, String(x)]);
  }
  return out;
}

/** Pseudo-header fields first, in their original relative order (RFC 9114 §4.3). */
export function pseudoFirst(lines: FieldLine[]): FieldLine[] {
  const pseudo = lines.filter((l) => l[0].startsWith(':'));
  if (pseudo.length === 0 || pseudo.length === lines.length) return lines;
  return [...pseudo, ...lines.filter((l) => !l[0].startsWith(':'))];
}

export function isValidFieldName(name: string): boolean {
  if (name.length === 0) return false;
  for (let i = name.charCodeAt(0) === 0x3a ? 1 : 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (c >= 128 || TOKEN[c] !== 1) return false;
  }
  return name.length > 1 || name !== ':';
}

/** No NUL, CR or LF and only octets (RFC 9110 §5.5; RFC 9114 §4.1.2). */
export function isValidFieldValue(value: string): boolean {
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c === 0 || c === 0x0a || c === 0x0d || c > 0xff) return false;
  }
  return true;
}

export interface MessageInfo {
  /** Declared Content-Length, or -1. */
  contentLength: number;
}

export interface RequestInfo extends MessageInfo {
  method: string;
}

export interface ResponseInfo extends MessageInfo {
  status: number;
}

/** Checks names, values, connection-specific fields and Content-Length; undefined if fine. */
function checkRegular(
  lines: readonly FieldLine[],
  start: number,
  info: MessageInfo,
  request: boolean,
): string | undefined {
  for (let i = start; i < lines.length; i++) {
    const [name, value] = lines[i]!;
    // RFC 9114 §4.3: all pseudo-header fields come before regular fields.
    if (name.charCodeAt(0) === 0x3a) return 'pseudo-header field after a regular field';
    if (!isValidFieldName(name)) return `invalid field name ${JSON.stringify(name)}`;
    if (!isValidFieldValue(value)) return `invalid value for ${name}`;
    // RFC 9114 §4.2: connection-specific fields; TE only in requests and only "trailers".
    if (CONNECTION_SPECIFIC.has(name)) return `connection-specific field ${name}`;
    if (name === 'te' && (!request || value.toLowerCase() !== 'trailers')) return 'invalid TE field';
    if (name === 'content-length') {
      if (!/^[0-9]{1,15}$/.test(value)) return 'invalid content-length';
      const n = Number(value);
      if (info.contentLength >= 0 && info.contentLength !== n) return 'conflicting content-length';
      info.contentLength = n;
    }
  }
  return undefined;
}

/** Validates a request header section (RFC 9114 §4.3.1, §4.4). */
export function validateRequest(lines: readonly FieldLine[]): RequestInfo | string {
  let method: string | undefined;
  let scheme: string | undefined;
  let authority: string | undefined;
  let path: string | undefined;
  let i = 0;
  for (; i < lines.length; i++) {
    const [name, value] = lines[i]!;
    if (name.charCodeAt(0) !== 0x3a) break;
    // RFC 9114 §4.3: undefined pseudo-headers or response ones make a request malformed.
    if (!REQUEST_PSEUDO.has(name)) return `invalid request pseudo-header ${name}`;
    if (!isValidFieldValue(value)) return `invalid value for ${name}`;
    // RFC 9114 §4.3.1: exactly one of each.
    if (name === ':method') {
      if (method !== undefined) return 'duplicate :method';
      method = value;
    } else if (name === ':scheme') {
      if (scheme !== undefined) return 'duplicate :scheme';
      scheme = value;
    } else if (name === ':authority') {
      if (authority !== undefined) return 'duplicate :authority';
      authority = value;
    } else {
      if (path !== undefined) return 'duplicate :path';
      path = value;
    }
  }
  const info: RequestInfo = { method: method ?? '', contentLength: -1 };
  const bad = checkRegular(lines, i, info, true);
  if (bad) return bad;
  if (method === undefined || !isToken(method)) return 'missing or invalid :method';
  if (method === 'CONNECT') {
    // RFC 9114 §4.4: :scheme and :path omitted, :authority present.
    if (scheme !== undefined || path !== undefined) return 'CONNECT with :scheme or :path';
    if (!authority) return 'CONNECT without :authority';
    return info;
  }
  if (scheme === undefined || scheme.length === 0) return 'missing :scheme';
  if (path === undefined || path.length === 0) return 'missing or empty :path';
  if (scheme === 'http' || scheme === 'https') {
    // RFC 9114 §4.3.1: :authority or Host, non-empty, equal when both are present.
    let host: string | undefined;
    for (let k = i; k < lines.length; k++) {
      if (lines[k]![0] === 'host') {
        if (host !== undefined) return 'duplicate host';
        host = lines[k]![1];
      }
    }
    if (authority === undefined && host === undefined) return 'missing :authority and host';
    if (authority === '' || host === '') return 'empty :authority or host';
    if (authority !== undefined && host !== undefined && authority !== host) {
      return ':authority and host differ';
    }
    // RFC 9114 §4.3.1: no userinfo in the authority of http and https URIs.
    if (authority?.includes('@')) return 'userinfo in :authority';
  }
  return info;
}

/** Validates a response header section (RFC 9114 §4.3.2, §4.5). */
export function validateResponse(lines: readonly FieldLine[]): ResponseInfo | string {
  let status: string | undefined;
  let i = 0;
  for (; i < lines.length; i++) {
    const [name, value] = lines[i]!;
    if (name.charCodeAt(0) !== 0x3a) break;
    if (name !== ':status') return `invalid response pseudo-header ${name}`;
    if (status !== undefined) return 'duplicate :status';
    status = value;
  }
  if (status === undefined) return 'missing :status';
  if (!/^[1-5][0-9][0-9]$/.test(status)) return 'invalid :status';
  const code = Number(status);
  // RFC 9114 §4.5: no 101 (Switching Protocols) in HTTP/3.
  if (code === 101) return '101 is not allowed in HTTP/3';
  const info: ResponseInfo = { status: code, contentLength: -1 };
  return checkRegular(lines, i, info, false) ?? info;
}

/** Validates a trailer section: no pseudo-header fields (RFC 9114 §4.3). */
export function validateTrailers(lines: readonly FieldLine[]): string | undefined {
  for (const [name, value] of lines) {
    if (name.charCodeAt(0) === 0x3a) return 'pseudo-header field in trailers';
    if (!isValidFieldName(name)) return `invalid field name ${JSON.stringify(name)}`;
    if (!isValidFieldValue(value)) return `invalid value for ${name}`;
    if (CONNECTION_SPECIFIC.has(name) || name === 'te') return `connection-specific field ${name}`;
  }
  return undefined;
}

/** Size of a field section as RFC 9114 §4.2.2 counts it (name + value + 32 per line). */
export function fieldSectionSize(lines: readonly FieldLine[]): number {
  let n = 0;
  for (const [name, value] of lines) n += name.length + value.length + 32;
  return n;
}
