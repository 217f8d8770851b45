import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { clientTls, echo, payload, serveEcho, startClient, startServer } from './support.js';

interface QlogRecord {
  qlog_version?: string;
  qlog_format?: string;
  trace?: {
    vantage_point: { type: string };
    common_fields: { ODCID: string; time_format: string; reference_time: number };
  };
  time?: number;
  name?: string;
  data?: { frames?: { frame_type: string }[]; header?: { packet_type?: string } };
}

/** Parses JSON-SEQ (RFC 7464): records start with RS (0x1e) and end with LF. */
function parseJsonSeq(text: string): QlogRecord[] {
  assert.equal(text[0], '\x1e', 'a JSON-SEQ file starts with RS');
  return text
    .split('\x1e')
    .slice(1)
    .map((r) => {
      assert.ok(r.endsWith('\n'), 'each record ends with LF');
      return JSON.parse(r) as QlogRecord;
    });
}

/** Whether packet_received events listed their frames, per vantage point (checked below). */
const receivedFrames: Record<string, boolean> = {};

test('qlog files (JSON-SEQ) and the key log are written', { timeout: 15_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'fq-logs-'));
  const qlogDir = join(dir, 'qlog');
  const keyLogFile = join(dir, 'keys.log');
  try {
    const server = await startServer({ qlogDir, keyLogFile });
    const client = await startClient({ qlogDir, keyLogFile });
    serveEcho(server);
    const conn = await client.connect(server.address, { alpn: 'test', ...clientTls });
    const data = payload(50_000, 2);
    assert.deepEqual(await echo(conn, data), data);
    await conn.close();
    await client.close();
    await server.close();

    const files = readdirSync(qlogDir).sort();
    assert.equal(files.length, 2, files.join(', '));
    const clientFile = files.find((f) => f.endsWith('_client.sqlog'))!;
    const serverFile = files.find((f) => f.endsWith('_server.sqlog'))!;
    assert.ok(clientFile && serverFile);
    // Both are named by the client's original destination connection ID.
    assert.equal(clientFile.replace('_client.sqlog', ''), serverFile.replace('_server.sqlog', ''));
    for (const [file, role] of [
      [clientFile, 'client'],
      [serverFile, 'server'],
    ] as const) {
      const records = parseJsonSeq(readFileSync(join(qlogDir, file), 'utf8'));
      const head = records[0]!;
      assert.equal(head.qlog_version, '0.3');
      assert.equal(head.qlog_format, 'JSON-SEQ');
      assert.equal(head.trace?.vantage_point.type, role);
      assert.equal(head.trace?.common_fields.ODCID, file.split('_')[0]);
      assert.equal(head.trace?.common_fields.time_format, 'relative');
      assert.ok(Math.abs(head.trace!.common_fields.reference_time - Date.now()) < 60_000);
      const events = records.slice(1);
      assert.ok(events.every((e) => typeof e.time === 'number' && e.time >= 0 && typeof e.name === 'string'));
      const sent = events.filter((e) => e.name === 'transport:packet_sent');
      const received = events.filter((e) => e.name === 'transport:packet_received');
      assert.ok(sent.length > 5 && received.length > 5, `${sent.length} sent, ${received.length} received`);
      const frameTypes = new Set(sent.flatMap((e) => (e.data?.frames ?? []).map((f) => f.frame_type)));
      for (const t of ['crypto', 'ack', 'stream']) assert.ok(frameTypes.has(t), `${role} sent no ${t} frame`);
      assert.ok(received.every((e) => e.data?.header?.packet_type !== undefined));
      receivedFrames[role] = received.some((e) =>
        (e.data?.frames ?? []).some((f) => f.frame_type === 'stream'),
      );
      assert.ok(events.some((e) => e.name === 'transport:parameters_set'));
      // Times never go backwards by more than rounding.
      for (let i = 1; i < events.length; i++) assert.ok(events[i]!.time! >= events[i - 1]!.time! - 0.001);
    }

    const lines = readFileSync(keyLogFile, 'utf8').trim().split('\n');
    const labels = new Set(lines.map((l) => l.split(' ')[0]));
    for (const l of [
      'CLIENT_HANDSHAKE_TRAFFIC_SECRET',
      'SERVER_HANDSHAKE_TRAFFIC_SECRET',
      'CLIENT_TRAFFIC_SECRET_0',
      'SERVER_TRAFFIC_SECRET_0',
    ]) {
      assert.ok(labels.has(l), `missing ${l}`);
    }
    for (const l of lines) assert.match(l, /^[A-Z_0-9]+ [0-9a-f]{64} [0-9a-f]{64,96}$/);
    // Client and server logged the same secrets for the same client random.
    assert.equal(lines.length, 8);
    assert.equal(new Set(lines).size, 4);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('qlog packet_received events list their frames', () => {
  assert.equal(receivedFrames['client'], true);
  assert.equal(receivedFrames['server'], true);
});

test('fromEnv takes QLOGDIR and SSLKEYLOGFILE from the environment', { timeout: 15_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'fq-env-'));
  const saved = { q: process.env['QLOGDIR'], k: process.env['SSLKEYLOGFILE'] };
  process.env['QLOGDIR'] = join(dir, 'q');
  process.env['SSLKEYLOGFILE'] = join(dir, 'k.log');
  try {
    const plain = await startClient();
    await plain.close();
    const server = await startServer({ fromEnv: true });
    const client = await startClient();
    serveEcho(server);
    const conn = await client.connect(server.address, { alpn: 'test', ...clientTls });
    await echo(conn, new Uint8Array([1, 2, 3]));
    await client.close();
    await server.close();
    // Only the server opted in.
    assert.deepEqual(
      readdirSync(join(dir, 'q')).map((f) => f.split('_')[1]),
      ['server.sqlog'],
    );
    assert.ok(readFileSync(join(dir, 'k.log'), 'utf8').includes('SERVER_TRAFFIC_SECRET_0'));
  } finally {
    if (saved.q === undefined) delete process.env['QLOGDIR'];
    else process.env['QLOGDIR'] = saved.q;
    if (saved.k === undefined) delete process.env['SSLKEYLOGFILE'];
    else process.env['SSLKEYLOGFILE'] = saved.k;
    rmSync(dir, { recursive: true, force: true });
  }
});
