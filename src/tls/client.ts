// TLS 1.3 client handshake for QUIC (RFC 8446 §4, RFC 9001 §4, §8).
import type { X509Certificate } from 'node:crypto';
import { ipToBytes } from '../common/addr.js';
import { cryptoError, TransportError, TransportErrorCode } from '../common/errors.js';
import { Level } from '../common/levels.js';
import {
  decodeError,
  illegalParameter,
  missingExtension,
  unexpectedMessage,
  unsupportedExtension,
} from './alerts.js';
import {
  type Credentials,
  certificateFlight,
  checkCertificateVerify,
  checkFinished,
  finishedMessage,
  loadCredentials,
  loadTrustAnchors,
  readPeerCertificate,
  verifyPeerChain,
} from './auth.js';
import { defaultTrustAnchors, SERVER_AUTH_OID } from './certificates.js';
import {
  Alert,
  advertisedSchemes,
  type CipherSuiteInfo,
  DEFAULT_CIPHER_SUITES,
  DEFAULT_GROUPS,
  ExtensionType,
  type GroupName,
  groupName,
  HandshakeType,
  isCipherSuite,
  LEGACY_VERSION,
  NamedGroup,
  PskMode,
  QUIC_MAX_EARLY_DATA,
  TLS13,
  VERIFY_SCHEMES,
} from './constants.js';
import type { RawMessage } from './handshake-buffer.js';
import { generateKeyShare, type KeyShare } from './key-exchange.js';
import {
  binderKey,
  deriveSecret,
  earlySecret,
  finishedVerifyData,
  handshakeSecret,
  hashOf,
  masterSecret,
  messageHash,
  resumptionPsk,
  Transcript,
} from './key-schedule.js';
import {
  concatMessages,
  decodeAlpn,
  decodeCertificateRequest,
  decodeEncryptedExtensions,
  decodeMaxEarlyData,
  decodeNewSessionTicket,
  decodeServerHello,
  decodeServerKeyShare,
  decodeU16,
  decodeU16List,
  type Extension,
  type ExtensionList,
  encodeAlpn,
  encodeClientHello,
  encodeClientKeyShares,
  encodeServerName,
  encodeU16List,
  ext,
  patchBinders,
  type ServerHello,
} from './messages.js';
import { BaseSession, suiteInfo, type TlsClientConfig, type TlsSession } from './session.js';
import type { SessionTicket } from './tickets.js';

const ClientState = {
  Start: 0,
  WaitServerHello: 1,
  WaitEncryptedExtensions: 2,
  WaitCertificateOrRequest: 3,
  WaitCertificate: 4,
  WaitCertificateVerify: 5,
  WaitFinished: 6,
  Connected: 7,
} as const;
type ClientState = (typeof ClientState)[keyof typeof ClientState];

/** RFC 8446 §4.6.1: clients MUST NOT cache tickets for longer than 7 days. */
const MAX_TICKET_AGE_MS = 604_800_000;

// RFC 8446 §4.2 table: where each known extension may appear (for illegal_parameter checks).
const SH_EXTENSIONS = new Set<number>([
  ExtensionType.SupportedVersions,
  ExtensionType.KeyShare,
  ExtensionType.PreSharedKey,
]);
const HRR_EXTENSIONS = new Set<number>([
  ExtensionType.SupportedVersions,
  ExtensionType.KeyShare,
  ExtensionType.Cookie,
]);
const EE_FORBIDDEN = new Set<number>([
  ExtensionType.SignatureAlgorithms,
  ExtensionType.Padding,
  ExtensionType.KeyShare,
  ExtensionType.PreSharedKey,
  ExtensionType.PskKeyExchangeModes,
  ExtensionType.SupportedVersions,
  ExtensionType.Cookie,
  ExtensionType.CertificateAuthorities,
  ExtensionType.PostHandshakeAuth,
  ExtensionType.SignatureAlgorithmsCert,
]);
const KNOWN_EXTENSIONS = new Set<number>(Object.values(ExtensionType));

class ClientSession extends BaseSession implements TlsSession {
  readonly role = 'client' as const;
  readonly #config: TlsClientConfig;
  readonly #suites: readonly number[];
  readonly #groups: readonly GroupName[];
  readonly #sni: string | undefined;
  /** Name checked against the certificate (DNS name without a trailing dot, or IP literal). */
  readonly #host: string;
  readonly #credentials: Credentials | undefined;
  readonly #schemes: readonly number[];
  #state: ClientState = ClientState.Start;

  #random = new Uint8Array(32);
  #shares = new Map<number, KeyShare>();
  #baseExtensions: Extension[] = [];
  #cookie: Uint8Array | undefined;
  #clientHello1: Uint8Array | undefined;
  #transcript = new Transcript();
  /** Offered extension types (unsolicited responses are unsupported_extension). */
  #offered = new Set<number>();

  #ticket: SessionTicket | undefined;
  #attemptEarlyData = false;
  #hrr: { suite: CipherSuiteInfo; group: number | undefined } | undefined;

  #suite: CipherSuiteInfo | undefined;
  #pskAccepted = false;
  #clientHs: Uint8Array | undefined;
  #serverHs: Uint8Array | undefined;
  #master: Uint8Array | undefined;
  #resumptionMaster: Uint8Array | undefined;
  #certRequest: { context: Uint8Array; schemes: number[] } | undefined;

  constructor(config: TlsClientConfig) {
    super(config.keyLog);
    if (config.alpnProtocols.length === 0) throw new TypeError('alpnProtocols must not be empty');
    this.#config = config;
    this.#suites = config.cipherSuites ?? DEFAULT_CIPHER_SUITES;
    this.#groups = config.groups ?? DEFAULT_GROUPS;
    if (this.#suites.length === 0 || this.#groups.length === 0)
      throw new TypeError('no cipher suites or groups');
    this.#schemes = advertisedSchemes(config.signatureSchemes ?? VERIFY_SCHEMES);
    this.serverName = config.serverName;
    // RFC 6066 §3: literal IP addresses are not permitted in SNI.
    this.#host = ipToBytes(config.serverName) ? config.serverName : config.serverName.replace(/\.$/, '');
    this.#sni = ipToBytes(config.serverName) ? undefined : this.#host;
    if (config.certificateChain !== undefined && config.privateKey !== undefined) {
      this.#credentials = loadCredentials(config.certificateChain, config.privateKey);
    }
    this.#ticket = this.#usableTicket(config.session);
  }

  /** A ticket we may offer (RFC 8446 §4.2.11.1, §4.6.1), or undefined. */
  #usableTicket(t: SessionTicket | undefined): SessionTicket | undefined {
    if (!t) return undefined;
    const age = this.#config.clock() - t.receivedAt;
    if (age < 0 || age > t.lifetime * 1000 || age > MAX_TICKET_AGE_MS) return undefined;
    // RFC 8446 §4.6.1: same KDF hash as the original connection.
    const hash = suiteInfo(t.cipherSuite).hash;
    if (!this.#suites.some((s) => isCipherSuite(s) && suiteInfo(s).hash === hash)) return undefined;
    // RFC 8446 §4.6.1: resume only with an SNI valid for the original server (we require the same one).
    if (t.serverName !== this.#config.serverName) return undefined;
    return t;
  }

  start(): void {
    this.guard(() => {
      if (this.#state !== ClientState.Start) throw new Error('TlsSession.start called twice');
      this.#config.random.fill(this.#random);
      this.clientRandom = this.#random;
      const shareGroups = this.#config.keyShareGroups ?? [this.#groups[0]!];
      for (const g of shareGroups) {
        if (!this.#groups.includes(g)) throw new TypeError(`key share group ${g} is not in groups`);
        const share = generateKeyShare(g, this.#config.random);
        this.#shares.set(share.code, share);
      }
      const t = this.#ticket;
      // RFC 8446 §4.2.10: 0-RTT uses the ticket's suite and ALPN; RFC 9001 §4.6.1: only with 0xffffffff.
      this.#attemptEarlyData =
        t !== undefined &&
        this.#config.earlyData === true &&
        t.earlyData &&
        this.#suites.includes(t.cipherSuite) &&
        this.#config.alpnProtocols.includes(t.alpn);
      this.#buildBaseExtensions();
      const ch = this.#encodeClientHello(undefined);
      this.#clientHello1 = ch;
      this.#transcript.add(ch);
      this.send(Level.Initial, ch);
      if (this.#attemptEarlyData && t) {
        const suite = suiteInfo(t.cipherSuite);
        const early = earlySecret(suite.hash, t.psk);
        const secret = deriveSecret(suite.hash, early, 'c e traffic', hashOf(suite.hash, ch));
        this.keyLog('CLIENT_EARLY_TRAFFIC_SECRET', secret);
        this.secret(Level.EarlyData, 'write', suite, secret);
      }
      this.#state = ClientState.WaitServerHello;
    });
  }

  #buildBaseExtensions(): void {
    const c = this.#config;
    const list: Extension[] = [];
    if (this.#sni !== undefined)
      list.push({ type: ExtensionType.ServerName, data: encodeServerName(this.#sni) });
    list.push({
      type: ExtensionType.SupportedGroups,
      data: encodeU16List(
        this.#groups.map((g) => NamedGroup[g]),
        2,
      ),
    });
    list.push({ type: ExtensionType.SignatureAlgorithms, data: encodeU16List(this.#schemes, 2) });
    list.push({ type: ExtensionType.Alpn, data: encodeAlpn(c.alpnProtocols) });
    // RFC 9001 §4.2: clients MUST NOT offer TLS versions older than 1.3.
    list.push(ext.supportedVersionsClient([TLS13]));
    // RFC 8446 §4.2.9: only psk_dhe_ke (also tells the server which tickets we can use).
    list.push({ type: ExtensionType.PskKeyExchangeModes, data: new Uint8Array([1, PskMode.psk_dhe_ke]) });
    // RFC 9001 §8.2: endpoints MUST send quic_transport_parameters.
    list.push({ type: ExtensionType.QuicTransportParameters, data: c.transportParameters });
    this.#baseExtensions = list;
  }

  /** ClientHello with the current key shares, cookie and PSK; binders computed over `prefix`. */
  #encodeClientHello(prefix: Uint8Array[] | undefined): Uint8Array {
    const exts = [...this.#baseExtensions];
    exts.push({
      type: ExtensionType.KeyShare,
      data: encodeClientKeyShares(
        [...this.#shares.values()].map((s) => ({ group: s.code, key: s.publicKey })),
      ),
    });
    // RFC 8446 §4.1.2: no early_data after a HelloRetryRequest; echo the cookie.
    if (this.#attemptEarlyData && !this.#hrr) exts.push(ext.earlyDataEmpty());
    if (this.#cookie) exts.push({ type: ExtensionType.Cookie, data: encodeCookie(this.#cookie) });
    const t = this.#ticket;
    const suite = t ? suiteInfo(t.cipherSuite) : undefined;
    const offerPsk =
      t !== undefined && suite !== undefined && (!this.#hrr || this.#hrr.suite.hash === suite.hash);
    this.#offered = new Set(exts.map((e) => e.type));
    if (!offerPsk || !t || !suite) {
      return encodeClientHello({ random: this.#random, cipherSuites: this.#suites, extensions: exts })
        .message;
    }
    this.#offered.add(ExtensionType.PreSharedKey);
    // RFC 8446 §4.2.11.1: obfuscated_ticket_age = age in ms + ticket_age_add (mod 2^32).
    const age = Math.max(0, this.#config.clock() - t.receivedAt);
    const obfuscatedAge = (age + t.ageAdd) >>> 0;
    const { message, binderOffset } = encodeClientHello({
      random: this.#random,
      cipherSuites: this.#suites,
      extensions: exts,
      psk: { identities: [{ identity: t.ticket, obfuscatedAge }], binderLength: suite.hashLength },
    });
    // RFC 8446 §4.2.11.2: binder = Finished-style HMAC over Transcript-Hash(prefix, Truncate(CH)).
    const bk = binderKey(suite.hash, earlySecret(suite.hash, t.psk));
    const th = hashOf(suite.hash, ...(prefix ?? []), message.subarray(0, binderOffset));
    patchBinders(message, binderOffset, [finishedVerifyData(suite.hash, bk, th)]);
    return message;
  }

  protected handleMessage(msg: RawMessage, level: Level): void {
    switch (this.#state) {
      case ClientState.WaitServerHello:
        if (msg.type !== HandshakeType.ServerHello || level !== Level.Initial) this.unexpected(msg);
        this.#onServerHello(msg);
        break;
      case ClientState.WaitEncryptedExtensions:
        if (msg.type !== HandshakeType.EncryptedExtensions) this.unexpected(msg);
        this.#onEncryptedExtensions(msg);
        break;
      case ClientState.WaitCertificateOrRequest:
        if (msg.type === HandshakeType.CertificateRequest) this.#onCertificateRequest(msg);
        else if (msg.type === HandshakeType.Certificate) this.#onCertificate(msg);
        else this.unexpected(msg);
        break;
      case ClientState.WaitCertificate:
        if (msg.type !== HandshakeType.Certificate) this.unexpected(msg);
        this.#onCertificate(msg);
        break;
      case ClientState.WaitCertificateVerify:
        if (msg.type !== HandshakeType.CertificateVerify) this.unexpected(msg);
        this.#onCertificateVerify(msg);
        break;
      case ClientState.WaitFinished:
        if (msg.type !== HandshakeType.Finished) this.unexpected(msg);
        this.#onFinished(msg);
        break;
      case ClientState.Connected:
        this.#onPostHandshake(msg);
        break;
      default:
        this.unexpected(msg);
    }
  }

  /** RFC 8446 §4.1.3 checks common to ServerHello and HelloRetryRequest. */
  #checkServerHello(sh: ServerHello, allowed: Set<number>): CipherSuiteInfo {
    if (sh.legacyVersion !== LEGACY_VERSION) throw illegalParameter('bad ServerHello legacy_version');
    // RFC 8446 §4.2.1: the version is in supported_versions; without it TLS < 1.3 was chosen,
    // which RFC 9001 §4.2 forbids.
    const sv = sh.extensions.get(ExtensionType.SupportedVersions);
    if (sv === undefined) throw cryptoError(Alert.ProtocolVersion, 'server did not negotiate TLS 1.3');
    if (decodeU16(sv, 'supported_versions') !== TLS13)
      throw illegalParameter('server selected a version not offered');
    if (sh.sessionIdEcho.length !== 0) throw illegalParameter('legacy_session_id_echo does not match');
    if (!this.#suites.includes(sh.cipherSuite) || !isCipherSuite(sh.cipherSuite)) {
      throw illegalParameter('server selected a cipher suite not offered');
    }
    if (sh.compressionMethod !== 0) throw illegalParameter('legacy_compression_method must be 0');
    for (const e of sh.extensions.items) {
      if (allowed.has(e.type)) continue;
      // RFC 8446 §4.2: known but misplaced → illegal_parameter; unsolicited → unsupported_extension.
      if (KNOWN_EXTENSIONS.has(e.type)) throw illegalParameter(`extension ${e.type} not allowed here`);
      throw unsupportedExtension(`unsolicited extension ${e.type}`);
    }
    return suiteInfo(sh.cipherSuite);
  }

  #onServerHello(msg: RawMessage): void {
    const sh = decodeServerHello(msg.body);
    if (sh.isHelloRetryRequest) {
      this.#onHelloRetryRequest(sh, msg.message);
      return;
    }
    const suite = this.#checkServerHello(sh, SH_EXTENSIONS);
    // RFC 8446 §4.1.4: same cipher suite as the HelloRetryRequest.
    if (this.#hrr && this.#hrr.suite.code !== suite.code)
      throw illegalParameter('cipher suite changed after HRR');

    let psk: Uint8Array | undefined;
    const pskExt = sh.extensions.get(ExtensionType.PreSharedKey);
    if (pskExt !== undefined) {
      const t = this.#ticket;
      // RFC 8446 §4.2.11: selected_identity in range and a suite with the PSK's hash.
      if (!t || !this.#offered.has(ExtensionType.PreSharedKey))
        throw unsupportedExtension('unsolicited pre_shared_key');
      if (decodeU16(pskExt, 'pre_shared_key') !== 0) throw illegalParameter('selected_identity out of range');
      if (suiteInfo(t.cipherSuite).hash !== suite.hash)
        throw illegalParameter('PSK hash does not match the suite');
      psk = t.psk;
    }
    const ksExt = sh.extensions.get(ExtensionType.KeyShare);
    if (ksExt === undefined) {
      // We only offer psk_dhe_ke (RFC 8446 §4.2.11) and (EC)DHE (RFC 8446 §9.2).
      if (psk) throw illegalParameter('psk_dhe_ke requires a key_share');
      throw missingExtension('ServerHello without key_share');
    }
    const ks = decodeServerKeyShare(ksExt);
    // RFC 8446 §4.2.8: same group as one of our shares (and as the HRR's).
    const share = this.#shares.get(ks.group);
    if (!share) throw illegalParameter('key_share for a group we did not offer');
    const shared = share.computeSecret(ks.key);

    this.#suite = suite;
    this.cipherSuite = suite.code;
    this.#pskAccepted = psk !== undefined;
    this.resumed = this.#pskAccepted;
    this.#transcript.setHash(suite.hash);
    this.#transcript.add(msg.message);
    const hs = handshakeSecret(suite.hash, earlySecret(suite.hash, psk), shared);
    const th = this.#transcript.digest();
    this.#clientHs = deriveSecret(suite.hash, hs, 'c hs traffic', th);
    this.#serverHs = deriveSecret(suite.hash, hs, 's hs traffic', th);
    this.#master = masterSecret(suite.hash, hs);
    this.keyLog('CLIENT_HANDSHAKE_TRAFFIC_SECRET', this.#clientHs);
    this.keyLog('SERVER_HANDSHAKE_TRAFFIC_SECRET', this.#serverHs);
    this.secret(Level.Handshake, 'read', suite, this.#serverHs);
    this.secret(Level.Handshake, 'write', suite, this.#clientHs);
    this.#state = ClientState.WaitEncryptedExtensions;
    this.readLevel = Level.Handshake;
  }

  #onHelloRetryRequest(hrr: ServerHello, message: Uint8Array): void {
    // RFC 8446 §4.1.4: a second HelloRetryRequest is unexpected_message.
    if (this.#hrr) throw unexpectedMessage('second HelloRetryRequest');
    const suite = this.#checkServerHello(hrr, HRR_EXTENSIONS);
    let group: number | undefined;
    const ks = hrr.extensions.get(ExtensionType.KeyShare);
    if (ks !== undefined) {
      group = decodeU16(ks, 'key_share');
      const name = groupName(group);
      // RFC 8446 §4.2.8: a group we support that we did not already send a share for.
      if (!name || !this.#groups.includes(name) || this.#shares.has(group)) {
        throw illegalParameter('HelloRetryRequest selected an unacceptable group');
      }
    }
    const cookie = hrr.extensions.get(ExtensionType.Cookie);
    if (cookie !== undefined) this.#cookie = decodeCookie(cookie);
    // RFC 8446 §4.1.4: an HRR that would not change the ClientHello is illegal_parameter.
    if (group === undefined && cookie === undefined)
      throw illegalParameter('HelloRetryRequest changes nothing');

    this.#hrr = { suite, group };
    if (group !== undefined) {
      const share = generateKeyShare(groupName(group)!, this.#config.random);
      this.#shares = new Map([[share.code, share]]);
    }
    // RFC 9001 §4.6.2: a HelloRetryRequest always rejects 0-RTT.
    if (this.#attemptEarlyData) {
      this.earlyDataAccepted = false;
      this.events.push({ type: 'early-data', accepted: false });
    }
    // RFC 8446 §4.4.1: ClientHello1 is replaced by message_hash.
    const transcript = new Transcript();
    transcript.setHash(suite.hash);
    const mh = messageHash(suite.hash, this.#clientHello1!);
    transcript.add(mh);
    transcript.add(message);
    const ch2 = this.#encodeClientHello([mh, message]);
    transcript.add(ch2);
    this.#transcript = transcript;
    this.send(Level.Initial, ch2);
  }

  #onEncryptedExtensions(msg: RawMessage): void {
    const exts = decodeEncryptedExtensions(msg.body);
    for (const e of exts.items) {
      // RFC 8446 §4.3.1: forbidden extensions → illegal_parameter; §4.2: unsolicited → unsupported_extension.
      if (EE_FORBIDDEN.has(e.type))
        throw illegalParameter(`extension ${e.type} not allowed in EncryptedExtensions`);
      if (!this.#offered.has(e.type)) throw unsupportedExtension(`unsolicited extension ${e.type}`);
    }
    this.#readAlpn(exts);
    // RFC 9001 §8.2: missing quic_transport_parameters → missing_extension.
    const tp = exts.get(ExtensionType.QuicTransportParameters);
    if (tp === undefined) throw missingExtension('missing quic_transport_parameters');
    this.peerTransportParameters = tp;
    const sni = exts.get(ExtensionType.ServerName);
    if (sni !== undefined && sni.length !== 0)
      throw decodeError('non-empty server_name in EncryptedExtensions');

    const ed = exts.get(ExtensionType.EarlyData);
    if (ed !== undefined) {
      if (ed.length !== 0) throw decodeError('non-empty early_data in EncryptedExtensions');
      // RFC 8446 §4.2.11: early_data requires the first PSK; §4.2.10: same ALPN as the ticket.
      if (!this.#pskAccepted) throw illegalParameter('early_data accepted without a PSK');
      if (this.alpn !== this.#ticket?.alpn) throw illegalParameter('0-RTT accepted with a different ALPN');
    }
    if (this.#attemptEarlyData && this.earlyDataAccepted === undefined) {
      this.earlyDataAccepted = ed !== undefined;
      this.events.push({ type: 'early-data', accepted: ed !== undefined });
    }
    this.#transcript.add(msg.message);
    this.#state = this.#pskAccepted ? ClientState.WaitFinished : ClientState.WaitCertificateOrRequest;
  }

  #readAlpn(exts: ExtensionList): void {
    const a = exts.get(ExtensionType.Alpn);
    // RFC 9001 §8.1: QUIC clients MUST close with no_application_protocol if none is negotiated.
    if (a === undefined)
      throw cryptoError(Alert.NoApplicationProtocol, 'server selected no application protocol');
    const list = decodeAlpn(a);
    if (list.length !== 1) throw illegalParameter('server must select exactly one protocol');
    const selected = list[0]!;
    if (!this.#config.alpnProtocols.includes(selected)) {
      throw cryptoError(Alert.NoApplicationProtocol, 'server selected a protocol we did not offer');
    }
    this.alpn = selected;
  }

  #onCertificateRequest(msg: RawMessage): void {
    const cr = decodeCertificateRequest(msg.body);
    // RFC 8446 §4.3.2: empty context during the handshake; signature_algorithms is mandatory.
    if (cr.context.length !== 0) throw illegalParameter('non-empty certificate_request_context');
    const sa = cr.extensions.get(ExtensionType.SignatureAlgorithms);
    if (sa === undefined) throw missingExtension('CertificateRequest without signature_algorithms');
    this.#certRequest = { context: cr.context, schemes: decodeU16List(sa, 2, 'signature_algorithms') };
    this.#transcript.add(msg.message);
    this.#state = ClientState.WaitCertificate;
  }

  #onCertificate(msg: RawMessage): void {
    const chain = readPeerCertificate(msg.body, new Uint8Array(0));
    // RFC 8446 §4.4.2.4: an empty server Certificate is decode_error.
    if (chain.length === 0) throw decodeError('server sent no certificate');
    if (this.#config.verifyPeer !== false) {
      // RFC 9001 §4.4: a client MUST authenticate the identity of the server.
      verifyPeerChain(chain, {
        trustAnchors:
          this.#config.ca !== undefined ? loadTrustAnchors(this.#config.ca) : defaultTrustAnchors(),
        now: this.#config.clock(),
        host: this.#host,
        purpose: SERVER_AUTH_OID,
      });
    }
    this.peerCertificates = chain;
    this.#transcript.add(msg.message);
    this.#state = ClientState.WaitCertificateVerify;
  }

  #onCertificateVerify(msg: RawMessage): void {
    const leaf = this.peerCertificates[0] as X509Certificate;
    // RFC 8446 §4.4.3: only a scheme we offered for CertificateVerify (never PKCS#1).
    const offered = this.#schemes.filter((s) => VERIFY_SCHEMES.includes(s));
    checkCertificateVerify(msg.body, true, leaf, offered, this.#transcript);
    this.#transcript.add(msg.message);
    this.#state = ClientState.WaitFinished;
  }

  #onFinished(msg: RawMessage): void {
    const suite = this.#suite!;
    checkFinished(msg.body, suite.hash, this.#serverHs!, this.#transcript);
    this.#transcript.add(msg.message);
    const th = this.#transcript.digest();
    const clientAp = deriveSecret(suite.hash, this.#master!, 'c ap traffic', th);
    const serverAp = deriveSecret(suite.hash, this.#master!, 's ap traffic', th);

    // RFC 9001 §8.3: no EndOfEarlyData. RFC 8446 §4.4.2: Certificate iff requested.
    const flight: Uint8Array[] = [];
    const cr = this.#certRequest;
    if (cr) {
      const creds = this.#credentials;
      const scheme = creds?.schemes.find((s) => cr.schemes.includes(s));
      const use = creds && scheme !== undefined ? creds : undefined;
      flight.push(...certificateFlight(false, cr.context, use, scheme, this.#transcript));
    }
    const fin = finishedMessage(suite.hash, this.#clientHs!, this.#transcript);
    this.#transcript.add(fin);
    flight.push(fin);
    this.#resumptionMaster = deriveSecret(suite.hash, this.#master!, 'res master', this.#transcript.digest());

    this.send(Level.Handshake, concatMessages(flight));
    this.keyLog('CLIENT_TRAFFIC_SECRET_0', clientAp);
    this.keyLog('SERVER_TRAFFIC_SECRET_0', serverAp);
    this.secret(Level.Application, 'read', suite, serverAp);
    this.secret(Level.Application, 'write', suite, clientAp);
    this.#state = ClientState.Connected;
    this.readLevel = Level.Application;
    this.handshakeComplete = true;
    this.events.push({ type: 'handshake-complete' });
  }

  #onPostHandshake(msg: RawMessage): void {
    if (msg.type === HandshakeType.CertificateRequest) {
      // RFC 9001 §4.4: post-handshake CertificateRequest is a PROTOCOL_VIOLATION.
      throw new TransportError(TransportErrorCode.PROTOCOL_VIOLATION, 'post-handshake CertificateRequest');
    }
    // RFC 9001 §6: a TLS KeyUpdate is unexpected_message; so is anything but a ticket.
    if (msg.type !== HandshakeType.NewSessionTicket) this.unexpected(msg);
    const suite = this.#suite!;
    const nst = decodeNewSessionTicket(msg.body);
    // RFC 8446 §4.6.1: lifetime at most 7 days.
    if (nst.lifetime > 604_800) throw illegalParameter('ticket_lifetime over 7 days');
    const ed = nst.extensions.get(ExtensionType.EarlyData);
    let earlyData = false;
    if (ed !== undefined) {
      // RFC 9001 §4.6.1: any max_early_data_size but 0xffffffff is a PROTOCOL_VIOLATION.
      if (decodeMaxEarlyData(ed) !== QUIC_MAX_EARLY_DATA) {
        throw new TransportError(
          TransportErrorCode.PROTOCOL_VIOLATION,
          'max_early_data_size must be 0xffffffff',
        );
      }
      earlyData = true;
    }
    if (nst.lifetime === 0) return; // RFC 8446 §4.6.1: discard immediately.
    const ticket: SessionTicket = {
      ticket: nst.ticket,
      psk: resumptionPsk(suite.hash, this.#resumptionMaster!, nst.nonce),
      cipherSuite: suite.code,
      ageAdd: nst.ageAdd,
      lifetime: nst.lifetime,
      receivedAt: this.#config.clock(),
      earlyData,
      alpn: this.alpn!,
      serverName: this.#config.serverName,
    };
    this.events.push({ type: 'session-ticket', ticket });
  }

  sendSessionTicket(): void {
    throw new Error('only servers send session tickets');
  }
}

function encodeCookie(cookie: Uint8Array): Uint8Array {
  const out = new Uint8Array(2 + cookie.length);
  out[0] = cookie.length >>> 8;
  out[1] = cookie.length & 0xff;
  out.set(cookie, 2);
  return out;
}

/** RFC 8446 §4.2.2: opaque cookie<1..2^16-1>. */
function decodeCookie(data: Uint8Array): Uint8Array {
  if (data.length < 3 || ((data[0]! << 8) | data[1]!) !== data.length - 2)
    throw decodeError('malformed cookie');
  return data.slice(2);
}

export function createClientSession(config: TlsClientConfig): TlsSession {
  return new ClientSession(config);
}
