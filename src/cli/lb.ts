// `feather-quic lb`: a stateless QUIC-LB load balancer in front of `feather-quic server`
// backends, and the backend side of `feather-quic server` (--behind-lb and friends).
import { type ParseArgsConfig, parseArgs } from 'node:util';
import type { SocketAddress } from '../common/addr.js';
import { fromHex, hex } from '../common/bytes.js';
import type { QuicEndpointOptions } from '../node/endpoint.js';
import { QuicLoadBalancer, type SharedKeys, sharedKeys } from '../node/load-balancer.js';
import { TunnelSocket } from '../node/tunnel-socket.js';
import { QuicLbConfig } from '../quic-lb/config.js';
import { QuicLbConnectionIdGenerator } from '../quic-lb/generator.js';
import { CliError, ExitCode, oneLine, parseAddress, parseInteger, readTextFile, UsageError } from './args.js';
import { formatAddress, Log } from './format.js';

export const LB_HELP = `Usage: feather-quic lb --listen ADDR:PORT --tunnel ADDR:PORT --backend SID=ADDR:PORT... --quic-lb-key HEX [options]

A stateless QUIC-LB load balancer (draft-ietf-quic-load-balancers): every client datagram goes
to the backend whose server ID its connection ID carries (encrypted with the shared key), or,
for a client-chosen or unroutable ID, to a rendezvous hash of its 4-tuple over the live
backends. No per-connection state: client migration and NAT rebinding keep their backend.
Backends are 'feather-quic server --behind-lb' processes; datagrams travel between them and
this process in envelopes carrying the client's address. Runs until SIGINT or SIGTERM.

Options:
  -l, --listen ADDR:PORT          public address clients connect to (default 127.0.0.1:4433)
      --tunnel ADDR:PORT          this balancer's socket for backend traffic (required; the
                                  backends' --lb-peer). Only configured backend addresses may
                                  send to it: keep it on a private network.
      --backend SID=ADDR:PORT     a backend: its server ID (hex) and its --tunnel address;
                                  repeatable
      --quic-lb-key HEX           the QUIC-LB key shared with the backends (16 octets, hex)
      --server-id-length N        server ID octets (default: the length of the SIDs given)
      --nonce-length N            nonce octets, 4..18 (default 8); same on every backend
      --config-rotation N         config rotation codepoint, 0..6 (default 0)
      --fallback-seed N           seed of the 4-tuple hash (default 0); same on every balancer
      --health-timeout MS         a backend silent this long is dead: its clients fall back to
                                  the others (default 1000; 0: never)
      --stats-interval MS         print a 'stats {json}' line every MS (and always at exit)
  -q, --quiet                     print only errors and stats
  -h, --help                      show this help

Example (two backends sharing the keys in ./keys, a file with one hex secret):
  feather-quic lb --listen 127.0.0.1:4433 --tunnel 127.0.0.1:4500 --quic-lb-key $KEY \\
    --backend 01=127.0.0.1:4501 --backend 02=127.0.0.1:4502
  feather-quic server --behind-lb 127.0.0.1:4433 --tunnel 127.0.0.1:4501 --lb-peer 127.0.0.1:4500 \\
    --server-id 01 --quic-lb-key $KEY --shared-keys keys ./www
`;

/** The backend flags of `feather-quic server` (parseArgs options). */
export const BACKEND_OPTIONS = {
  'behind-lb': { type: 'string' },
  tunnel: { type: 'string' },
  'lb-peer': { type: 'string' },
  'server-id': { type: 'string' },
  'quic-lb-key': { type: 'string' },
  'nonce-length': { type: 'string' },
  'config-rotation': { type: 'string' },
  'shared-keys': { type: 'string' },
} as const satisfies NonNullable<ParseArgsConfig['options']>;

export interface BackendConfig {
  /** The load balancer's public address: the local address of every client path. */
  readonly publicAddress: SocketAddress;
  /** This server's tunnel address. */
  readonly tunnel: SocketAddress;
  /** The load balancer's tunnel address. */
  readonly lbPeer: SocketAddress;
  readonly serverId: Uint8Array;
  readonly config: QuicLbConfig;
  /** Keys shared by every backend (without them: random per process). */
  readonly keys?: SharedKeys;
}

function quicLbConfig(values: Record<string, unknown>, serverIdLength: number): QuicLbConfig {
  const text = values['quic-lb-key'];
  if (typeof text !== 'string') throw new UsageError('--quic-lb-key HEX is required');
  let key: Uint8Array;
  try {
    key = fromHex(text);
  } catch {
    throw new UsageError('--quic-lb-key: expected 32 hex digits');
  }
  if (key.length !== 16) throw new UsageError(`--quic-lb-key: expected 16 octets, got ${key.length}`);
  const num = (flag: string, min: number, max: number, def: number): number => {
    const v = values[flag];
    return typeof v === 'string' ? parseInteger(`--${flag}`, v, min, max) : def;
  };
  const nonceLength = num('nonce-length', 4, 18, 8);
  const configRotation = num('config-rotation', 0, 6, 0);
  try {
    return new QuicLbConfig({ configRotation, serverIdLength, nonceLength, key });
  } catch (e) {
    throw new UsageError(oneLine(e).replace(/^QUIC-LB /, ''));
  }
}

function parseServerId(flag: string, text: string): Uint8Array {
  let sid: Uint8Array;
  try {
    sid = fromHex(text);
  } catch {
    throw new UsageError(`${flag}: server ID must be hex, got '${text}'`);
  }
  if (sid.length < 1 || sid.length > 15) throw new UsageError(`${flag}: server ID must be 1..15 octets`);
  return sid;
}

/** Reads the shared secret file: hex digits (whitespace and '#' comment lines ignored), ≥ 16 octets. */
export function readSharedKeys(path: string): SharedKeys {
  const text = readTextFile('--shared-keys', path)
    .split('\n')
    .filter((l) => !l.trim().startsWith('#'))
    .join('');
  let secret: Uint8Array;
  try {
    secret = fromHex(text);
  } catch {
    throw new CliError(`--shared-keys: ${path} must hold a hex secret`);
  }
  if (secret.length < 16)
    throw new CliError(`--shared-keys: the secret in ${path} is shorter than 16 octets`);
  return sharedKeys(secret);
}

/**
 * The backend configuration from `feather-quic server` flags, or undefined without --behind-lb.
 * UsageError for incomplete or conflicting flags.
 */
export function backendFromFlags(values: Record<string, unknown>): BackendConfig | undefined {
  const flags = Object.keys(BACKEND_OPTIONS).filter((k) => values[k] !== undefined);
  if (values['behind-lb'] === undefined) {
    if (flags.length > 0) throw new UsageError(`--${flags[0]} needs --behind-lb`);
    return undefined;
  }
  for (const f of ['tunnel', 'lb-peer', 'server-id']) {
    if (typeof values[f] !== 'string') throw new UsageError(`--behind-lb needs --${f}`);
  }
  for (const f of ['listen', 'preferred-address']) {
    if (values[f] !== undefined) throw new UsageError(`--behind-lb and --${f} exclude each other`);
  }
  const serverId = parseServerId('--server-id', values['server-id'] as string);
  const keys = typeof values['shared-keys'] === 'string' ? readSharedKeys(values['shared-keys']) : undefined;
  return {
    publicAddress: parseAddress('--behind-lb', values['behind-lb'] as string),
    tunnel: parseAddress('--tunnel', values['tunnel'] as string),
    lbPeer: parseAddress('--lb-peer', values['lb-peer'] as string),
    serverId,
    config: quicLbConfig(values, serverId.length),
    ...(keys ? { keys } : {}),
  };
}

export interface OpenBackend {
  readonly tunnel: TunnelSocket;
  /** To spread into QuicEndpoint.bind(): the tunnel socket, the CID generator, the shared keys. */
  readonly endpointOptions: Pick<
    QuicEndpointOptions,
    'sockets' | 'cidGenerator' | 'statelessResetKey' | 'tokenKey' | 'ticketKey'
  >;
}

/** Binds the tunnel socket of a backend; CliError when it cannot. */
export async function openBackend(cfg: BackendConfig): Promise<OpenBackend> {
  let tunnel: TunnelSocket;
  try {
    tunnel = await TunnelSocket.bind({
      address: cfg.tunnel,
      loadBalancer: cfg.lbPeer,
      publicAddress: cfg.publicAddress,
      serverId: cfg.serverId,
    });
  } catch (e) {
    throw new CliError(`--tunnel ${formatAddress(cfg.tunnel)}: ${oneLine(e)}`);
  }
  return {
    tunnel,
    endpointOptions: {
      sockets: [tunnel.provided],
      cidGenerator: new QuicLbConnectionIdGenerator(cfg.config, cfg.serverId),
      ...(cfg.keys ?? {}),
    },
  };
}

export function describeBackend(cfg: BackendConfig): string {
  const c = cfg.config;
  return (
    `behind load balancer ${formatAddress(cfg.publicAddress)}: server ID ${hex(cfg.serverId)}, ` +
    `tunnel ${formatAddress(cfg.tunnel)} <-> ${formatAddress(cfg.lbPeer)}, ` +
    `QUIC-LB config ${c.configRotation} (${c.algorithm}, ${c.cidLength}-octet CIDs)` +
    (cfg.keys ? ', shared keys' : ', own keys (no --shared-keys)')
  );
}

function parse<const O extends NonNullable<ParseArgsConfig['options']>>(args: string[], options: O) {
  try {
    return parseArgs({ args, options, allowPositionals: true, strict: true });
  } catch (e) {
    throw new UsageError(oneLine(e).replace(/^TypeError.*?: /, ''));
  }
}

export async function lbCommand(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, {
    listen: { type: 'string', short: 'l' },
    tunnel: { type: 'string' },
    backend: { type: 'string', multiple: true },
    'quic-lb-key': { type: 'string' },
    'server-id-length': { type: 'string' },
    'nonce-length': { type: 'string' },
    'config-rotation': { type: 'string' },
    'fallback-seed': { type: 'string' },
    'health-timeout': { type: 'string' },
    'stats-interval': { type: 'string' },
    quiet: { type: 'boolean', short: 'q' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help) {
    process.stdout.write(LB_HELP);
    return ExitCode.ok;
  }
  if (positionals.length > 0) throw new UsageError(`unexpected argument '${positionals[0]}'`);
  const listen = parseAddress('--listen', values.listen ?? '127.0.0.1:4433');
  if (values.tunnel === undefined) throw new UsageError('--tunnel ADDR:PORT is required');
  const tunnel = parseAddress('--tunnel', values.tunnel);
  if (!values.backend?.length) throw new UsageError('at least one --backend SID=ADDR:PORT is required');
  const backends: Record<string, SocketAddress> = {};
  let sidLength: number | undefined;
  for (const b of values.backend) {
    const eq = b.indexOf('=');
    if (eq < 0) throw new UsageError(`--backend: expected SID=ADDR:PORT, got '${b}'`);
    const sid = parseServerId('--backend', b.slice(0, eq));
    if (sidLength !== undefined && sid.length !== sidLength)
      throw new UsageError('--backend: every server ID must have the same length');
    sidLength = sid.length;
    const key = hex(sid);
    if (backends[key] !== undefined) throw new UsageError(`--backend: server ID ${key} given twice`);
    backends[key] = parseAddress('--backend', b.slice(eq + 1));
  }
  if (values['server-id-length'] !== undefined) {
    const n = parseInteger('--server-id-length', values['server-id-length'], 1, 15);
    if (n !== sidLength)
      throw new UsageError(`--server-id-length ${n}: the server IDs given are ${sidLength} octets`);
  }
  const config = quicLbConfig(values, sidLength!);
  const fallbackSeed = values['fallback-seed']
    ? parseInteger('--fallback-seed', values['fallback-seed'], 0, 0xffffffff)
    : 0;
  const healthTimeout = values['health-timeout']
    ? parseInteger('--health-timeout', values['health-timeout'], 0, 3_600_000)
    : 1000;
  const statsInterval = values['stats-interval']
    ? parseInteger('--stats-interval', values['stats-interval'], 10, 3_600_000)
    : undefined;
  const log = new Log(process.stdout, values.quiet === true);
  let lb: QuicLoadBalancer;
  try {
    lb = await QuicLoadBalancer.bind({
      listen,
      tunnel,
      backends,
      configs: config,
      fallbackSeed,
      healthTimeout,
      onBackendChange: (sid, live) =>
        log.info(`backend ${sid} (${formatAddress(backends[sid]!)}) ${live ? 'up' : 'down'}`),
    });
  } catch (e) {
    throw new CliError(oneLine(e));
  }
  const n = Object.keys(backends).length;
  log.info(
    `load balancer on ${formatAddress(lb.address)}, tunnel ${formatAddress(lb.tunnelAddress)}, ` +
      `${n} backend${n === 1 ? '' : 's'}, QUIC-LB config ${config.configRotation} ` +
      `(${config.algorithm}, ${config.cidLength}-octet CIDs)` +
      (healthTimeout > 0 ? `, health timeout ${healthTimeout} ms` : ', no health checks'),
  );
  // Machine-readable lines for scripts and tests.
  process.stdout.write(`listening ${formatAddress(lb.address)}\ntunnel ${formatAddress(lb.tunnelAddress)}\n`);
  const printStats = (): void => log.result(`stats ${JSON.stringify(lb.stats)}`);
  const timer = statsInterval !== undefined ? setInterval(printStats, statsInterval) : undefined;
  await new Promise<void>((resolve) => {
    const stop = (signal: string): void => {
      log.info(`${signal}: closing`);
      if (timer) clearInterval(timer);
      printStats();
      lb.close();
      resolve();
    };
    process.once('SIGINT', () => stop('SIGINT'));
    process.once('SIGTERM', () => stop('SIGTERM'));
  });
  return ExitCode.ok;
}
