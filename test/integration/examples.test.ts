// The README's runnable migration example keeps working.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const example = fileURLToPath(new URL('../../examples/migration.js', import.meta.url));

test('examples/migration: preferred address, migrate() mid-download, byte-exact', {
  timeout: 60_000,
}, async () => {
  const out = await new Promise<string>((resolve, reject) => {
    execFile(process.execPath, [example], { timeout: 50_000 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${err.message}\n${stdout}\n${stderr}`));
      else resolve(stdout);
    });
  });
  assert.match(out, /migrated .* \(server preferred address\)/);
  assert.match(out, /migrate\(\) done — path \d+/);
  assert.match(out, /server: following the client/);
  assert.match(out, /sha256 matches/);
});
