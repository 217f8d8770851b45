// Client certificates: CertificateRequest, client Certificate / CertificateVerify (RFC 8446 §4.3.2, §4.4).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { hex } from '../../../src/common/bytes.js';
import { Level } from '../../../src/common/levels.js';
import { HandshakeType } from '../../../src/tls/constants.js';
import { decodeCertificate } from '../../../src/tls/messages.js';
import {
  alertOfError,
  chain,
  connect,
  pem,
  rewriteMessage,
  splitMessages,
  TICKET_KEY,
} from './tls-helpers.js';

const withClientCert = { certificateChain: chain('client'), privateKey: pem('client.key') };
const requesting = { requestClientCertificate: true, clientCa: pem('ca.pem') };

describe('client authentication', () => {
  test('client certificate is requested, sent, verified', () => {
    const { client, server, error } = connect(withClientCert, requesting);
    assert.equal(error, undefined);
    assert.equal(server.session.handshakeComplete, true);
    assert.equal(server.session.peerCertificates.length, 2);
    assert.match(server.session.peerCertificates[0]!.subject, /CN=feather-quic test client/);
    const serverTypes = server.sent[Level.Handshake]!.flatMap((d) => splitMessages(d).map((m) => m[0]));
    assert.deepEqual(serverTypes, [
      HandshakeType.EncryptedExtensions,
      HandshakeType.CertificateRequest,
      HandshakeType.Certificate,
      HandshakeType.CertificateVerify,
      HandshakeType.Finished,
    ]);
    const clientTypes = client.sent[Level.Handshake]!.flatMap((d) => splitMessages(d).map((m) => m[0]));
    assert.deepEqual(clientTypes, [
      HandshakeType.Certificate,
      HandshakeType.CertificateVerify,
      HandshakeType.Finished,
    ]);
    assert.equal(
      hex(client.secrets.get(`${Level.Application}-write`)!),
      hex(server.secrets.get(`${Level.Application}-read`)!),
    );
  });

  test('client without a certificate sends an empty Certificate; the server continues', () => {
    const { client, server, error } = connect({}, requesting);
    assert.equal(error, undefined);
    assert.equal(server.session.handshakeComplete, true);
    assert.equal(server.session.peerCertificates.length, 0);
    const msgs = client.sent[Level.Handshake]!.flatMap((d) => splitMessages(d));
    assert.deepEqual(
      msgs.map((m) => m[0]),
      [HandshakeType.Certificate, HandshakeType.Finished],
    );
    assert.equal(decodeCertificate(msgs[0]!.subarray(4)).entries.length, 0);
  });

  test('required but absent → certificate_required (116)', () => {
    const r = connect({}, { clientCa: pem('ca.pem'), requireClientCertificate: true });
    assert.equal(r.by, 'server');
    assert.equal(alertOfError(r.error), 116);
  });

  test('client certificate from an unknown CA → unknown_ca (48)', () => {
    const r = connect(withClientCert, { ...requesting, clientCa: pem('unrelated-ca.pem') });
    assert.equal(r.by, 'server');
    assert.equal(alertOfError(r.error), 48);
  });

  test('a serverAuth-only certificate as client certificate → unsupported_certificate (43)', () => {
    const r = connect({ certificateChain: chain('leaf-p256'), privateKey: pem('leaf-p256.key') }, requesting);
    assert.equal(alertOfError(r.error), 43);
  });

  test('tampered client CertificateVerify → decrypt_error (51)', () => {
    const r = connect(withClientCert, requesting, {
      tamper: (from, level, data) =>
        from === 'client' && level === Level.Handshake
          ? rewriteMessage(data, HandshakeType.CertificateVerify, (m) => {
              const out = m.slice();
              out[out.length - 3]! ^= 0x10;
              return out;
            })
          : data,
    });
    assert.equal(r.by, 'server');
    assert.equal(alertOfError(r.error), 51);
  });

  test('client Certificate skipped (Finished only) → unexpected_message (10)', () => {
    const r = connect(withClientCert, requesting, {
      tamper: (from, level, data) =>
        from === 'client' && level === Level.Handshake
          ? splitMessages(data).find((m) => m[0] === HandshakeType.Finished)
          : data,
    });
    assert.equal(r.by, 'server');
    assert.equal(alertOfError(r.error), 10);
  });

  test('with client authentication requested, no tickets are issued or accepted', () => {
    const { client, server } = connect(withClientCert, { ...requesting, ticketKey: TICKET_KEY });
    server.session.sendSessionTicket();
    assert.equal(server.session.poll(), undefined);
    assert.equal(client.session.handshakeComplete, true);
  });
});
