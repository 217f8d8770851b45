// Static file serving for the runtime (HTTP/3 and hq-interop servers): resolves a request path
// under a root folder without escaping it (no `..` segments, no symlinks leading outside), and
// streams the file in chunks. Uses node:fs, so it stays out of the sans-IO classes.
import { open, realpath, stat } from 'node:fs/promises';
import { extname, join, sep } from 'node:path';

export interface StaticFileOptions {
  /** Request method (default GET); only GET and HEAD are served. */
  method?: string;
  /** File served for a directory (default index.html; '' disables). */
  index?: string;
  /** Size of the chunks the body is read in (default 65536). */
  chunkSize?: number;
}

export interface StaticFileResponse {
  status: number;
  /** Response fields (lowercase): content-type, content-length, allow for 405. */
  headers: [string, string][];
  /** Content length in octets (of the file for 200, of the short text body otherwise). */
  size: number;
  /** Resolved real path of the file (200 only). */
  filePath?: string;
  /** The content in chunks (empty for HEAD); each chunk is a fresh buffer. */
  body(): AsyncIterable<Uint8Array>;
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.htm': 'text/html; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
  '.css': 'text/css',
  '.js': 'text/javascript',
  '.mjs': 'text/javascript',
  '.json': 'application/json',
  '.xml': 'application/xml',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.gif': 'image/gif',
  '.webp': 'image/webp',
  '.ico': 'image/x-icon',
  '.wasm': 'application/wasm',
  '.pdf': 'application/pdf',
  '.mp4': 'video/mp4',
  '.webm': 'video/webm',
  '.mp3': 'audio/mpeg',
  '.woff2': 'font/woff2',
  '.zip': 'application/zip',
  '.gz': 'application/gzip',
};

/** Content-Type for a file name by extension (application/octet-stream when unknown). */
export function contentTypeOf(path: string): string {
  return TYPES[extname(path).toLowerCase()] ?? 'application/octet-stream';
}

/**
 * Safe path segments of a request target: query and fragment removed, percent-decoded,
 * empty and `.` segments dropped. Undefined when malformed or when a segment is `..`.
 */
export function requestPathSegments(target: string): string[] | undefined {
  const end = target.search(/[?#]/);
  const raw = end >= 0 ? target.slice(0, end) : target;
  if (!raw.startsWith('/')) return undefined;
  let decoded: string;
  try {
    decoded = decodeURIComponent(raw);
  } catch {
    return undefined;
  }
  if (decoded.includes('\0')) return undefined;
  const out: string[] = [];
  for (const seg of decoded.split('/')) {
    if (seg === '' || seg === '.') continue;
    if (seg === '..') return undefined;
    out.push(seg);
  }
  return out;
}

function textResponse(
  status: number,
  text: string,
  head: boolean,
  extra: [string, string][] = [],
): StaticFileResponse {
  const bytes = new TextEncoder().encode(`${text}\n`);
  return {
    status,
    headers: [
      ['content-type', 'text/plain; charset=utf-8'],
      ['content-length', String(bytes.length)],
      ...extra,
    ],
    size: bytes.length,
    async *body() {
      if (!head) yield bytes;
    },
  };
}

function inside(root: string, p: string): boolean {
  return p === root || p.startsWith(root.endsWith(sep) ? root : root + sep);
}

/** Reads a file in fresh chunks of `chunkSize` octets (the last one shorter). */
export async function* readFileChunks(path: string, chunkSize = 65536): AsyncGenerator<Uint8Array> {
  const fh = await open(path, 'r');
  try {
    for (;;) {
      const buf = new Uint8Array(chunkSize);
      const { bytesRead } = await fh.read(buf, 0, chunkSize, null);
      if (bytesRead === 0) return;
      yield bytesRead === chunkSize ? buf : buf.subarray(0, bytesRead);
    }
  } finally {
    await fh.close();
  }
}

/**
 * Resolves `target` (a request path such as `/dir/file.txt?x=1`) under `root`: 200 with the
 * file, 400 for a malformed path, 403 for `..` or anything resolving outside the root
 * (symlinks included), 404 when missing, 405 for methods other than GET and HEAD.
 */
export async function resolveStaticFile(
  root: string,
  target: string,
  opts: StaticFileOptions = {},
): Promise<StaticFileResponse> {
  const method = opts.method ?? 'GET';
  const head = method === 'HEAD';
  if (method !== 'GET' && !head)
    return textResponse(405, 'Method Not Allowed', false, [['allow', 'GET, HEAD']]);
  if (!target.startsWith('/')) return textResponse(400, 'Bad Request', head);
  const segments = requestPathSegments(target);
  if (!segments) {
    return /(^|\/)\.\.(\/|$)/.test(safeDecode(target.split(/[?#]/)[0]!))
      ? textResponse(403, 'Forbidden', head)
      : textResponse(400, 'Bad Request', head);
  }
  let rootReal: string;
  try {
    rootReal = await realpath(root);
  } catch {
    return textResponse(404, 'Not Found', head);
  }
  let file = await realOrUndefined(join(rootReal, ...segments));
  if (file === undefined) return textResponse(404, 'Not Found', head);
  if (!inside(rootReal, file)) return textResponse(403, 'Forbidden', head);
  let st = await stat(file);
  if (st.isDirectory()) {
    const index = opts.index ?? 'index.html';
    if (!index) return textResponse(404, 'Not Found', head);
    file = await realOrUndefined(join(file, index));
    if (file === undefined) return textResponse(404, 'Not Found', head);
    if (!inside(rootReal, file)) return textResponse(403, 'Forbidden', head);
    st = await stat(file);
  }
  if (!st.isFile()) return textResponse(404, 'Not Found', head);
  const size = st.size;
  const path = file;
  const chunkSize = opts.chunkSize ?? 65536;
  return {
    status: 200,
    headers: [
      ['content-type', contentTypeOf(path)],
      ['content-length', String(size)],
    ],
    size,
    filePath: path,
    body: () => (head ? emptyBody() : readFileChunks(path, chunkSize)),
  };
}

async function* emptyBody(): AsyncGenerator<Uint8Array> {}

async function realOrUndefined(p: string): Promise<string | undefined> {
  try {
    return await realpath(p);
  } catch {
    return undefined;
  }
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}
