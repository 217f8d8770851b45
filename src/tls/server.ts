// TLS 1.3 server handshake for QUIC (RFC 8446 §4, RFC 9001 §4, §8).
import type { X509Certificate } from 'node:crypto';
import { constantTimeEqual, equalBytes } from '../common/bytes.js';
import { cryptoError, TransportError, TransportErrorCode } from '../common/errors.js';
import { Level } from '../common/levels.js';
import { decodeError, handshakeFailure, illegalParameter, missingExtension } from './alerts.js';
import {
  type Credentials,
  certificateFlight,
  certificateRequired,
  checkCertificateVerify,
  checkFinished,
  finishedMessage,
  loadCredentials,
  loadTrustAnchors,
  readPeerCertificate,
  verifyPeerChain,
} from './auth.js';
import { CLIENT_AUTH_OID, defaultTrustAnchors } from './certificates.js';
import {
  Alert,
  advertisedSchemes,
  type CipherSuite,
  type CipherSuiteInfo,
  DEFAULT_CIPHER_SUITES,
  DEFAULT_GROUPS,
  ExtensionType,
  type GroupName,
  HandshakeType,
  HRR_RANDOM,
  NamedGroup,
  PskMode,
  QUIC_MAX_EARLY_DATA,
  TLS13,
  VERIFY_SCHEMES,
} from './constants.js';
import type { RawMessage } from './handshake-buffer.js';
import { generateKeyShare } from './key-exchange.js';
import {
  binderKey,
  deriveSecret,
  earlySecret,
  finishedVerifyData,
  handshakeSecret,
  masterSecret,
  messageHash,
  resumptionPsk,
  Transcript,
} from './key-schedule.js';
import {
  type ClientHello,
  concatMessages,
  decodeAlpn,
  decodeClientHello,
  decodeClientKeyShares,
  decodeOfferedPsks,
  decodeServerName,
  decodeU8List,
  decodeU16List,
  type Extension,
  encodeAlpn,
  encodeCertificateRequest,
  encodeExtensionsMessage,
  encodeNewSessionTicket,
  encodeServerHello,
  encodeServerKeyShare,
  encodeU16List,
  ext,
  type KeyShareEntry,
  type OfferedPsks,
} from './messages.js';
import { BaseSession, suiteInfo, type TlsServerConfig, type TlsSession } from './session.js';
import { openTicket, sealTicket, type TicketState, ticketId } from './tickets.js';

const ServerState = {
  WaitClientHello: 0,
  WaitClientHello2: 1,
  WaitCertificate: 2,
  WaitCertificateVerify: 3,
  WaitFinished: 4,
  Connected: 5,
} as const;
type ServerState = (typeof ServerState)[keyof typeof ServerState];

/** Extensions whose content may differ between ClientHello1 and ClientHello2 (RFC 8446 §4.1.2). */
const MAY_CHANGE_AFTER_HRR = new Set<number>([
  ExtensionType.KeyShare,
  ExtensionType.EarlyData,
  ExtensionType.Cookie,
  ExtensionType.PreSharedKey,
  ExtensionType.Padding,
]);

const DEFAULT_TICKET_LIFETIME = 86_400;

interface SelectedPsk {
  readonly index: number;
  readonly state: TicketState;
  readonly identity: Uint8Array;
  readonly obfuscatedAge: number;
}

class ServerSession extends BaseSession implements TlsSession {
  readonly role = 'server' as const;
  readonly #config: TlsServerConfig;
  readonly #credentials: Credentials;
  readonly #suites: readonly CipherSuite[];
  readonly #groups: readonly GroupName[];
  #state: ServerState = ServerState.WaitClientHello;

  #transcript = new Transcript();
  #clientHello1: { ch: ClientHello; message: Uint8Array } | undefined;
  #hrr: { suite: CipherSuiteInfo; group: number; message: Uint8Array } | undefined;
  #suite: CipherSuiteInfo | undefined;
  #clientHs: Uint8Array | undefined;
  #clientAp: Uint8Array | undefined;
  #master: Uint8Array | undefined;
  #resumptionMaster: Uint8Array | undefined;
  #requestedSchemes: readonly number[] = [];
  #ticketCounter = 0;
  readonly #clientAuth: boolean;

  constructor(config: TlsServerConfig) {
    super(config.keyLog);
    if (!config.selectAlpn && (!config.alpnProtocols || config.alpnProtocols.length === 0)) {
      throw new TypeError('alpnProtocols or selectAlpn is required');
    }
    if (config.maxEarlyData && !config.antiReplay) throw new TypeError('maxEarlyData requires antiReplay');
    if (
      config.ticketLifetime !== undefined &&
      !(config.ticketLifetime > 0 && config.ticketLifetime <= 604_800)
    ) {
      throw new RangeError('ticketLifetime must be in (0, 604800] seconds');
    }
    this.#config = config;
    this.#credentials = loadCredentials(config.certificateChain, config.privateKey);
    this.#suites = config.cipherSuites ?? DEFAULT_CIPHER_SUITES;
    this.#groups = config.groups ?? DEFAULT_GROUPS;
    this.#clientAuth = config.requestClientCertificate === true || config.requireClientCertificate === true;
  }

  start(): void {}

  protected handleMessage(msg: RawMessage, level: Level): void {
    switch (this.#state) {
      case ServerState.WaitClientHello:
      case ServerState.WaitClientHello2:
        if (msg.type !== HandshakeType.ClientHello || level !== Level.Initial) this.unexpected(msg);
        this.#onClientHello(msg);
        break;
      case ServerState.WaitCertificate:
        if (msg.type !== HandshakeType.Certificate) this.unexpected(msg);
        this.#onCertificate(msg);
        break;
      case ServerState.WaitCertificateVerify:
        if (msg.type !== HandshakeType.CertificateVerify) this.unexpected(msg);
        this.#onCertificateVerify(msg);
        break;
      case ServerState.WaitFinished:
        if (msg.type !== HandshakeType.Finished) this.unexpected(msg);
        this.#onFinished(msg);
        break;
      default:
        // RFC 8446 §4.1.2: a ClientHello after the handshake (renegotiation) is unexpected_message,
        // as is anything else; RFC 9001 §6: so is a TLS KeyUpdate.
        this.unexpected(msg);
    }
  }

  #onClientHello(msg: RawMessage): void {
    const ch = decodeClientHello(msg.body);
    const exts = ch.extensions;
    const second = this.#state === ServerState.WaitClientHello2;

    // RFC 8446 §4.2.1 / RFC 9001 §4.2: TLS 1.3 only, chosen from supported_versions.
    const sv = exts.get(ExtensionType.SupportedVersions);
    if (sv === undefined || !decodeU16List(sv, 1, 'supported_versions').includes(TLS13)) {
      throw cryptoError(Alert.ProtocolVersion, 'client does not offer TLS 1.3');
    }
    // RFC 8446 §4.1.2: legacy_compression_methods MUST be exactly [0].
    if (ch.compressionMethods.length !== 1 || ch.compressionMethods[0] !== 0) {
      throw illegalParameter('legacy_compression_methods must be [0]');
    }
    // RFC 9001 §8.4: no middlebox compatibility mode.
    if (ch.sessionId.length !== 0) {
      throw new TransportError(TransportErrorCode.PROTOCOL_VIOLATION, 'non-empty legacy_session_id');
    }
    // RFC 8446 §4.2.11: pre_shared_key MUST be the last extension.
    if (exts.has(ExtensionType.PreSharedKey) && exts.last !== ExtensionType.PreSharedKey) {
      throw illegalParameter('pre_shared_key is not the last extension');
    }
    // Cookies are ignored: we never send one (stateful HelloRetryRequest).
    if (second) this.#checkSecondClientHello(ch);

    // RFC 9001 §8.2: quic_transport_parameters is mandatory.
    const tp = exts.get(ExtensionType.QuicTransportParameters);
    if (tp === undefined) throw missingExtension('missing quic_transport_parameters');

    // RFC 8446 §9.2: supported_groups and key_share together.
    const sg = exts.get(ExtensionType.SupportedGroups);
    const ks = exts.get(ExtensionType.KeyShare);
    if ((sg === undefined) !== (ks === undefined))
      throw missingExtension('supported_groups and key_share go together');
    const clientGroups = sg === undefined ? [] : decodeU16List(sg, 2, 'supported_groups');
    const shares = ks === undefined ? [] : decodeClientKeyShares(ks);
    const seen = new Set<number>();
    for (const s of shares) {
      // RFC 8446 §4.2.8: one share per group, only for offered groups.
      if (seen.has(s.group) || !clientGroups.includes(s.group))
        throw illegalParameter('invalid key_share list');
      seen.add(s.group);
    }
    const sa = exts.get(ExtensionType.SignatureAlgorithms);
    const clientSchemes = sa === undefined ? undefined : decodeU16List(sa, 2, 'signature_algorithms');

    // RFC 9001 §8.1: ALPN is mandatory; no overlap → no_application_protocol.
    const alpnExt = exts.get(ExtensionType.Alpn);
    const offeredAlpn = alpnExt === undefined ? [] : decodeAlpn(alpnExt);
    const alpn = offeredAlpn.length === 0 ? undefined : this.#selectAlpn(offeredAlpn);
    if (alpn === undefined) throw cryptoError(Alert.NoApplicationProtocol, 'no common application protocol');

    const sni = exts.get(ExtensionType.ServerName);
    const serverName = sni === undefined ? undefined : decodeServerName(sni);

    const modes = exts.get(ExtensionType.PskKeyExchangeModes);
    const pskModes = modes === undefined ? [] : decodeU8List(modes, 'psk_key_exchange_modes');
    const pskExt = exts.get(ExtensionType.PreSharedKey);
    // RFC 8446 §4.2.9: pre_shared_key without psk_key_exchange_modes → abort (missing_extension, §9.2).
    if (pskExt !== undefined && modes === undefined)
      throw missingExtension('pre_shared_key without psk_key_exchange_modes');
    const offeredPsks = pskExt === undefined ? undefined : decodeOfferedPsks(pskExt);
    const earlyDataOffered = exts.has(ExtensionType.EarlyData);
    if (earlyDataOffered) {
      // RFC 8446 §4.2.10: early_data needs a PSK; none after a HelloRetryRequest (§4.1.2).
      if (exts.get(ExtensionType.EarlyData)!.length !== 0) throw decodeError('non-empty early_data');
      if (second) throw illegalParameter('early_data after HelloRetryRequest');
      if (!offeredPsks) throw illegalParameter('early_data without pre_shared_key');
    }

    // Cipher suite (RFC 8446 §4.1.1), fixed by the HelloRetryRequest on the second flight.
    const now = this.#config.clock();
    let psk =
      offeredPsks && pskModes.includes(PskMode.psk_dhe_ke) ? this.#findPsk(offeredPsks, now) : undefined;
    let suite: CipherSuiteInfo | undefined;
    if (this.#hrr) suite = this.#hrr.suite;
    else if (
      psk &&
      ch.cipherSuites.includes(psk.state.cipherSuite) &&
      this.#suites.includes(psk.state.cipherSuite)
    ) {
      // Prefer the ticket's suite: 0-RTT requires it (RFC 8446 §4.2.10).
      suite = suiteInfo(psk.state.cipherSuite);
    } else {
      const code = this.#suites.find((s) => ch.cipherSuites.includes(s));
      if (code !== undefined) suite = suiteInfo(code);
    }
    if (!suite) throw handshakeFailure('no common cipher suite');
    // RFC 8446 §4.6.1: a ticket only resumes with the same KDF hash.
    if (psk && suiteInfo(psk.state.cipherSuite).hash !== suite.hash) psk = undefined;

    // RFC 8446 §4.2.3, §9.2: certificate authentication needs signature_algorithms and groups.
    if (!psk && clientSchemes === undefined) throw missingExtension('missing signature_algorithms');
    if (sg === undefined) throw missingExtension('missing supported_groups');

    // Group: our preference among the client's shares; else HelloRetryRequest (RFC 8446 §4.1.1).
    let share: KeyShareEntry | undefined;
    for (const g of this.#groups) {
      share = shares.find((s) => s.group === NamedGroup[g]);
      if (share) break;
    }
    if (!share) {
      const g = this.#groups.find((name) => clientGroups.includes(NamedGroup[name]));
      if (g === undefined) throw handshakeFailure('no common group');
      // RFC 8446 §4.1.4: only one HelloRetryRequest.
      if (second) throw illegalParameter('second ClientHello without the requested key share');
      this.#sendHelloRetryRequest(ch, msg.message, suite, NamedGroup[g], earlyDataOffered);
      return;
    }
    if (second && share.group !== this.#hrr!.group) throw illegalParameter('key share for the wrong group');

    let scheme: number | undefined;
    if (!psk) {
      // RFC 8446 §4.4.3: a scheme the client offered that our key supports.
      scheme = this.#credentials.schemes.find((s) => clientSchemes!.includes(s));
      if (scheme === undefined) throw handshakeFailure('no common signature scheme');
    }

    // Transcript so far: CH, or message_hash(CH1), HRR, CH2 (RFC 8446 §4.4.1).
    this.#suite = suite;
    this.cipherSuite = suite.code;
    this.clientRandom = ch.random;
    this.serverName = serverName;
    this.alpn = alpn;
    this.peerTransportParameters = tp;
    this.#transcript.setHash(suite.hash);

    const early = earlySecret(suite.hash, psk?.state.psk);
    if (psk) {
      // RFC 8446 §4.2.11: validate the selected PSK's binder before accepting; abort if wrong.
      const binders = offeredPsks!.binders;
      const bk = binderKey(suite.hash, early);
      const th = this.#transcript.digestWith(msg.message.subarray(0, ch.truncatedLength!));
      const expected = finishedVerifyData(suite.hash, bk, th);
      if (!constantTimeEqual(expected, binders[psk.index]!))
        throw cryptoError(Alert.DecryptError, 'bad PSK binder');
    }
    this.#transcript.add(msg.message);

    let acceptEarly = false;
    if (earlyDataOffered) {
      acceptEarly = psk !== undefined && this.#acceptEarlyData(psk, suite, alpn, now);
      this.earlyDataAccepted = acceptEarly;
      this.events.push({ type: 'early-data', accepted: acceptEarly });
    }

    const serverShare = generateKeyShare(
      share.group === NamedGroup.x25519 ? 'x25519' : 'secp256r1',
      this.#config.random,
    );
    const shared = serverShare.computeSecret(share.key);
    const shExts: Extension[] = [
      ext.supportedVersionsServer(TLS13),
      {
        type: ExtensionType.KeyShare,
        data: encodeServerKeyShare({ group: share.group, key: serverShare.publicKey }),
      },
    ];
    if (psk) shExts.push(ext.selectedIdentity(psk.index));
    const random = new Uint8Array(32);
    this.#config.random.fill(random);
    const sh = encodeServerHello({
      random,
      sessionIdEcho: ch.sessionId,
      cipherSuite: suite.code,
      extensions: shExts,
    });
    this.send(Level.Initial, sh);

    if (acceptEarly) {
      const cEarly = deriveSecret(suite.hash, early, 'c e traffic', this.#transcript.digest());
      this.keyLog('CLIENT_EARLY_TRAFFIC_SECRET', cEarly);
      this.secret(Level.EarlyData, 'read', suite, cEarly);
    }

    this.#transcript.add(sh);
    const hs = handshakeSecret(suite.hash, early, shared);
    const th = this.#transcript.digest();
    const clientHs = deriveSecret(suite.hash, hs, 'c hs traffic', th);
    const serverHs = deriveSecret(suite.hash, hs, 's hs traffic', th);
    this.#clientHs = clientHs;
    this.#master = masterSecret(suite.hash, hs);
    this.keyLog('CLIENT_HANDSHAKE_TRAFFIC_SECRET', clientHs);
    this.keyLog('SERVER_HANDSHAKE_TRAFFIC_SECRET', serverHs);
    this.secret(Level.Handshake, 'read', suite, clientHs);
    this.secret(Level.Handshake, 'write', suite, serverHs);

    // EncryptedExtensions (RFC 8446 §4.3.1) with ALPN, transport parameters, early_data.
    const eeExts: Extension[] = [
      { type: ExtensionType.Alpn, data: encodeAlpn([alpn]) },
      { type: ExtensionType.QuicTransportParameters, data: this.#ourTransportParameters() },
    ];
    if (acceptEarly) eeExts.push(ext.earlyDataEmpty());
    const flight: Uint8Array[] = [encodeExtensionsMessage(HandshakeType.EncryptedExtensions, eeExts)];
    this.#transcript.add(flight[0]!);
    const requestCert = !psk && this.#clientAuth;
    if (!psk) {
      if (requestCert) {
        // RFC 8446 §4.3.2: signature_algorithms is mandatory; empty context in the handshake.
        this.#requestedSchemes = advertisedSchemes(this.#config.signatureSchemes ?? VERIFY_SCHEMES);
        const cr = encodeCertificateRequest(new Uint8Array(0), [
          { type: ExtensionType.SignatureAlgorithms, data: encodeU16List(this.#requestedSchemes, 2) },
        ]);
        this.#transcript.add(cr);
        flight.push(cr);
      }
      flight.push(...certificateFlight(true, new Uint8Array(0), this.#credentials, scheme, this.#transcript));
    }
    const fin = finishedMessage(suite.hash, serverHs, this.#transcript);
    this.#transcript.add(fin);
    flight.push(fin);
    this.send(Level.Handshake, concatMessages(flight));

    const thFin = this.#transcript.digest();
    const serverAp = deriveSecret(suite.hash, this.#master, 's ap traffic', thFin);
    this.#clientAp = deriveSecret(suite.hash, this.#master, 'c ap traffic', thFin);
    this.keyLog('CLIENT_TRAFFIC_SECRET_0', this.#clientAp);
    this.keyLog('SERVER_TRAFFIC_SECRET_0', serverAp);
    // RFC 8446 §4.4.4: the server may send after its first flight (0.5-RTT). The read secret
    // waits for the client's Finished (RFC 9001 §5.7).
    this.secret(Level.Application, 'write', suite, serverAp);

    this.resumed = psk !== undefined;
    this.#state = requestCert ? ServerState.WaitCertificate : ServerState.WaitFinished;
    this.readLevel = Level.Handshake;
  }

  #selectAlpn(offered: readonly string[]): string | undefined {
    if (this.#config.selectAlpn) {
      const p = this.#config.selectAlpn(offered);
      return p !== undefined && offered.includes(p) ? p : undefined;
    }
    return this.#config.alpnProtocols!.find((p) => offered.includes(p));
  }

  /** The first identity that is a valid, unexpired ticket of ours (RFC 8446 §4.2.11). */
  #findPsk(offered: OfferedPsks, now: number): SelectedPsk | undefined {
    const key = this.#config.ticketKey;
    // Tickets carry no client identity: with client authentication required, do full handshakes.
    if (!key || this.#clientAuth) return undefined;
    for (let i = 0; i < offered.identities.length; i++) {
      const id = offered.identities[i]!;
      const state = openTicket(key, id.identity);
      if (!state) continue;
      if (now < state.createdAt || now - state.createdAt > state.lifetime * 1000) continue;
      return { index: i, state, identity: id.identity, obfuscatedAge: id.obfuscatedAge };
    }
    return undefined;
  }

  #acceptEarlyData(psk: SelectedPsk, suite: CipherSuiteInfo, alpn: string, now: number): boolean {
    const c = this.#config;
    // RFC 8446 §4.2.10: the first PSK, same suite and ALPN as when the ticket was issued.
    if (psk.index !== 0 || !psk.state.earlyData || !c.maxEarlyData || !c.antiReplay) return false;
    if (suite.code !== psk.state.cipherSuite || alpn !== psk.state.alpn) return false;
    if (c.acceptEarlyData && !c.acceptEarlyData(psk.state.appData)) return false;
    // RFC 8446 §4.2.10, §8: client's ticket age = obfuscated age - ticket_age_add (mod 2^32).
    const clientAge = (psk.obfuscatedAge - psk.state.ageAdd) >>> 0;
    return c.antiReplay.check(ticketId(psk.identity), psk.state.createdAt, clientAge, now);
  }

  #sendHelloRetryRequest(
    ch: ClientHello,
    message: Uint8Array,
    suite: CipherSuiteInfo,
    group: number,
    earlyDataOffered: boolean,
  ): void {
    // RFC 8446 §4.1.4: supported_versions and the minimal key_share; the same suite later.
    const hrr = encodeServerHello({
      random: HRR_RANDOM,
      sessionIdEcho: ch.sessionId,
      cipherSuite: suite.code,
      extensions: [ext.supportedVersionsServer(TLS13), ext.selectedGroup(group)],
    });
    this.#transcript.setHash(suite.hash);
    // RFC 8446 §4.4.1: ClientHello1 is replaced by message_hash.
    this.#transcript.add(messageHash(suite.hash, message));
    this.#transcript.add(hrr);
    this.#clientHello1 = { ch, message };
    this.#hrr = { suite, group, message: hrr };
    this.send(Level.Initial, hrr);
    // RFC 9001 §4.6.2: a HelloRetryRequest rejects 0-RTT.
    if (earlyDataOffered) {
      this.earlyDataAccepted = false;
      this.events.push({ type: 'early-data', accepted: false });
    }
    this.#state = ServerState.WaitClientHello2;
  }

  /** RFC 8446 §4.1.2: ClientHello2 equals ClientHello1 except for the permitted changes. */
  #checkSecondClientHello(ch2: ClientHello): void {
    const ch1 = this.#clientHello1!.ch;
    const same =
      equalBytes(ch1.random, ch2.random) &&
      equalBytes(ch1.sessionId, ch2.sessionId) &&
      ch1.cipherSuites.length === ch2.cipherSuites.length &&
      ch1.cipherSuites.every((s, i) => ch2.cipherSuites[i] === s) &&
      equalBytes(ch1.compressionMethods, ch2.compressionMethods);
    if (!same) throw illegalParameter('second ClientHello differs from the first');
    const stable = (c: ClientHello) => c.extensions.items.filter((e) => !MAY_CHANGE_AFTER_HRR.has(e.type));
    const a = stable(ch1);
    const b = stable(ch2);
    if (a.length !== b.length || a.some((e, i) => e.type !== b[i]!.type || !equalBytes(e.data, b[i]!.data))) {
      throw illegalParameter('second ClientHello changed extensions');
    }
    const ks = ch2.extensions.get(ExtensionType.KeyShare);
    const shares = ks === undefined ? [] : decodeClientKeyShares(ks);
    // RFC 8446 §4.2.8: exactly one share, for the group the HelloRetryRequest selected.
    if (shares.length !== 1 || shares[0]!.group !== this.#hrr!.group) {
      throw illegalParameter('second ClientHello must carry one share for the selected group');
    }
  }

  #onCertificate(msg: RawMessage): void {
    const chain = readPeerCertificate(msg.body, new Uint8Array(0));
    this.#transcript.add(msg.message);
    if (chain.length === 0) {
      // RFC 8446 §4.4.2.4: continue unauthenticated or abort with certificate_required.
      if (this.#config.requireClientCertificate) throw certificateRequired();
      this.#state = ServerState.WaitFinished;
      return;
    }
    verifyPeerChain(chain, {
      trustAnchors:
        this.#config.clientCa !== undefined ? loadTrustAnchors(this.#config.clientCa) : defaultTrustAnchors(),
      now: this.#config.clock(),
      purpose: CLIENT_AUTH_OID,
    });
    this.peerCertificates = chain;
    this.#state = ServerState.WaitCertificateVerify;
  }

  #onCertificateVerify(msg: RawMessage): void {
    const schemes = this.#requestedSchemes.filter((s) => VERIFY_SCHEMES.includes(s));
    checkCertificateVerify(
      msg.body,
      false,
      this.peerCertificates[0] as X509Certificate,
      schemes,
      this.#transcript,
    );
    this.#transcript.add(msg.message);
    this.#state = ServerState.WaitFinished;
  }

  #onFinished(msg: RawMessage): void {
    const suite = this.#suite!;
    checkFinished(msg.body, suite.hash, this.#clientHs!, this.#transcript);
    this.#transcript.add(msg.message);
    this.#resumptionMaster = deriveSecret(suite.hash, this.#master!, 'res master', this.#transcript.digest());
    this.secret(Level.Application, 'read', suite, this.#clientAp!);
    this.#state = ServerState.Connected;
    this.readLevel = Level.Application;
    this.handshakeComplete = true;
    this.events.push({ type: 'handshake-complete' });
  }

  #ourTransportParameters(): Uint8Array {
    const tp = this.#config.transportParameters;
    return typeof tp === 'function' ? tp(this.peerTransportParameters ?? new Uint8Array(0)) : tp;
  }

  sendSessionTicket(opts?: { appData?: Uint8Array }): void {
    this.guard(() => {
      // RFC 8446 §4.6.1: only after the client's Finished.
      if (this.#state !== ServerState.Connected)
        throw new Error('session tickets are sent after the handshake');
      const c = this.#config;
      if (!c.ticketKey || this.#clientAuth) return;
      const suite = this.#suite!;
      const nonce = new Uint8Array(8);
      let n = this.#ticketCounter++;
      for (let i = 7; i >= 0; i--, n = Math.floor(n / 256)) nonce[i] = n & 0xff;
      const ageAddBytes = new Uint8Array(4);
      c.random.fill(ageAddBytes);
      const ageAdd =
        ((ageAddBytes[0]! << 24) | (ageAddBytes[1]! << 16) | (ageAddBytes[2]! << 8) | ageAddBytes[3]!) >>> 0;
      const lifetime = c.ticketLifetime ?? DEFAULT_TICKET_LIFETIME;
      const state: TicketState = {
        cipherSuite: suite.code,
        psk: resumptionPsk(suite.hash, this.#resumptionMaster!, nonce),
        ageAdd,
        createdAt: c.clock(),
        lifetime,
        alpn: this.alpn!,
        earlyData: c.maxEarlyData === true,
        appData: opts?.appData,
      };
      const ticket = sealTicket(c.ticketKey, state, c.random);
      // RFC 9001 §4.6.1: early_data only with max_early_data_size 0xffffffff.
      const exts = c.maxEarlyData ? [ext.earlyDataMax(QUIC_MAX_EARLY_DATA)] : [];
      this.send(Level.Application, encodeNewSessionTicket({ lifetime, ageAdd, nonce, ticket }, exts));
    });
  }
}

export function createServerSession(config: TlsServerConfig): TlsSession {
  return new ServerSession(config);
}
