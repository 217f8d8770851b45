import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { contentTypeOf, requestPathSegments, resolveStaticFile } from '../../../src/h3/static-files.js';

async function collect(it: AsyncIterable<Uint8Array>): Promise<Uint8Array[]> {
  const out: Uint8Array[] = [];
  for await (const c of it) out.push(c);
  return out;
}

describe('static files', () => {
  let base: string;
  let root: string;
  before(() => {
    base = mkdtempSync(join(tmpdir(), 'feather-h3-'));
    root = join(base, 'www');
    mkdirSync(join(root, 'sub'), { recursive: true });
    writeFileSync(join(root, 'hello.txt'), 'hello world');
    writeFileSync(join(root, 'index.html'), '<p>home</p>');
    writeFileSync(join(root, 'sub', 'data.bin'), Buffer.alloc(150_000, 7));
    writeFileSync(join(root, 'a b.json'), '{}');
    writeFileSync(join(base, 'secret.txt'), 'secret');
    symlinkSync(join(base, 'secret.txt'), join(root, 'escape.txt'));
    symlinkSync(base, join(root, 'up'));
    symlinkSync(join(root, 'hello.txt'), join(root, 'inside-link.txt'));
  });
  after(() => rmSync(base, { recursive: true, force: true }));

  it('serves a file with content-type and content-length', async () => {
    const r = await resolveStaticFile(root, '/hello.txt');
    assert.equal(r.status, 200);
    assert.deepEqual(r.headers, [
      ['content-type', 'text/plain; charset=utf-8'],
      ['content-length', '11'],
    ]);
    assert.equal(Buffer.concat(await collect(r.body())).toString(), 'hello world');
  });

  it('streams large files in chunks', async () => {
    const r = await resolveStaticFile(root, '/sub/data.bin?x=1', { chunkSize: 65536 });
    assert.equal(r.status, 200);
    assert.equal(r.size, 150_000);
    const chunks = await collect(r.body());
    assert.deepEqual(
      chunks.map((c) => c.length),
      [65536, 65536, 18928],
    );
    assert.ok(chunks.every((c) => c.every((b) => b === 7)));
  });

  it('grows its reads up to chunkSize, clamped to the file size', async () => {
    const r = await resolveStaticFile(root, '/sub/data.bin', { chunkSize: 131072 });
    const chunks = await collect(r.body());
    assert.deepEqual(
      chunks.map((c) => c.length),
      [65536, 84464],
    );
    assert.ok(chunks.every((c) => c.every((b) => b === 7)));
    const big = await collect((await resolveStaticFile(root, '/sub/data.bin')).body());
    assert.deepEqual(
      big.map((c) => c.length),
      [65536, 84464],
    );
  });

  it('serves index.html for directories and decodes percent-encoding', async () => {
    assert.equal((await resolveStaticFile(root, '/')).status, 200);
    assert.equal((await resolveStaticFile(root, '/')).headers[0]![1], 'text/html; charset=utf-8');
    assert.equal((await resolveStaticFile(root, '/a%20b.json')).status, 200);
    assert.equal((await resolveStaticFile(root, '/sub/')).status, 404);
    assert.equal((await resolveStaticFile(root, '/sub', { index: '' })).status, 404);
  });

  it('never escapes the root', async () => {
    for (const p of [
      '/../secret.txt',
      '/sub/../../secret.txt',
      '/%2e%2e/secret.txt',
      '/..%2fsecret.txt',
      '/escape.txt',
      '/up/secret.txt',
    ]) {
      const r = await resolveStaticFile(root, p);
      assert.equal(r.status, 403, p);
      const text = Buffer.concat(await collect(r.body())).toString();
      assert.ok(!text.includes('secret'), p);
    }
    // A symlink that stays inside the root is fine.
    assert.equal((await resolveStaticFile(root, '/inside-link.txt')).status, 200);
  });

  it('answers 400, 404, 405 and HEAD', async () => {
    assert.equal((await resolveStaticFile(root, 'hello.txt')).status, 400);
    assert.equal((await resolveStaticFile(root, '/%zz')).status, 400);
    assert.equal((await resolveStaticFile(root, '/a%00b')).status, 400);
    assert.equal((await resolveStaticFile(root, '/missing.txt')).status, 404);
    assert.equal((await resolveStaticFile(join(base, 'nope'), '/hello.txt')).status, 404);
    const post = await resolveStaticFile(root, '/hello.txt', { method: 'POST' });
    assert.equal(post.status, 405);
    assert.deepEqual(post.headers.at(-1), ['allow', 'GET, HEAD']);
    const head = await resolveStaticFile(root, '/hello.txt', { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.equal(head.size, 11);
    assert.deepEqual(await collect(head.body()), []);
  });

  it('maps extensions to content types and splits paths safely', () => {
    assert.equal(contentTypeOf('x.HTML'), 'text/html; charset=utf-8');
    assert.equal(contentTypeOf('x.png'), 'image/png');
    assert.equal(contentTypeOf('x'), 'application/octet-stream');
    assert.deepEqual(requestPathSegments('/a//./b/?q#f'), ['a', 'b']);
    assert.equal(requestPathSegments('/a/../b'), undefined);
  });
});
