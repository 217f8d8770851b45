#!/usr/bin/env node
// The `feather-quic` command: server, client and demo. Exit codes: 0 ok, 1 runtime or protocol
// failure, 2 usage error; errors are printed as one line.
import { mkdirSync } from 'node:fs';
import { type ParseArgsConfig, parseArgs } from 'node:util';
import type { SocketAddress } from '../common/addr.js';
import type { TransportConfig } from '../connection/config.js';
import {
  CliError,
  ExitCode,
  oneLine,
  parseAddress,
  parseChoice,
  parseCipherSuites,
  parseInteger,
  readTextFile,
  UsageError,
} from './args.js';
import { runClient } from './client.js';
import { DEFAULT_CERTIFICATE_PEM, DEFAULT_PRIVATE_KEY_PEM } from './default-certificate.js';
import { runDemo } from './demo.js';
import { type Alpn, parseUrls } from './fetch.js';
import { formatAddress, Log } from './format.js';
import { CLIENT_HELP, DEMO_HELP, MAIN_HELP, SERVER_HELP } from './help.js';
import { BACKEND_OPTIONS, backendFromFlags, describeBackend, LB_HELP, lbCommand } from './lb.js';
import { checkCertificate, runClusterServer, type ServerConfig, startServer } from './server.js';

function parse<const O extends NonNullable<ParseArgsConfig['options']>>(args: string[], options: O) {
  try {
    return parseArgs({ args, options, allowPositionals: true, strict: true });
  } catch (e) {
    throw new UsageError(oneLine(e).replace(/^TypeError.*?: /, ''));
  }
}

function transportOf(values: Record<string, unknown>): Partial<TransportConfig> | undefined {
  const t: Partial<TransportConfig> = {};
  if (typeof values['cc'] === 'string')
    t.congestionControl = parseChoice('--cc', values['cc'], ['cubic', 'newreno']);
  if (typeof values['max-udp-payload-size'] === 'string') {
    t.maxUdpPayloadSize = parseInteger('--max-udp-payload-size', values['max-udp-payload-size'], 1200, 65527);
  }
  return Object.keys(t).length > 0 ? t : undefined;
}

function ensureFolder(flag: string, dir: string): string {
  try {
    mkdirSync(dir, { recursive: true });
  } catch (e) {
    throw new CliError(`${flag}: cannot create ${dir}: ${(e as NodeJS.ErrnoException).code ?? oneLine(e)}`);
  }
  return dir;
}

async function serverCommand(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, {
    listen: { type: 'string', short: 'l', multiple: true },
    cert: { type: 'string' },
    key: { type: 'string' },
    retry: { type: 'boolean' },
    'preferred-address': { type: 'string', multiple: true },
    ciphers: { type: 'string' },
    cc: { type: 'string' },
    'max-udp-payload-size': { type: 'string' },
    'qlog-dir': { type: 'string' },
    'keylog-file': { type: 'string' },
    quiet: { type: 'boolean', short: 'q' },
    help: { type: 'boolean', short: 'h' },
    workers: { type: 'string' },
    ...BACKEND_OPTIONS,
  });
  if (values.help) {
    process.stdout.write(SERVER_HELP);
    return ExitCode.ok;
  }
  if (positionals.length > 1) throw new UsageError(`expected at most one FOLDER, got ${positionals.length}`);
  const backend = backendFromFlags(values);
  const listen = backend ? [] : (values.listen ?? ['127.0.0.1:4433']).map((a) => parseAddress('--listen', a));
  const preferred = (values['preferred-address'] ?? []).map((a) => parseAddress('--preferred-address', a));
  if (preferred.length > 2)
    throw new UsageError('--preferred-address: at most one IPv4 and one IPv6 address');
  const workers = values.workers !== undefined ? parseInteger('--workers', values.workers, 1, 64) : undefined;
  if (workers !== undefined) {
    if (backend) throw new UsageError('--workers cannot be combined with the load-balancer backend options');
    if (preferred.length > 0) throw new UsageError('--workers cannot be combined with --preferred-address');
    if (listen.length !== 1) throw new UsageError('--workers needs exactly one --listen address');
  }
  if ((values.cert === undefined) !== (values.key === undefined)) {
    throw new UsageError('--cert and --key go together');
  }
  const transport = transportOf(values);
  const cipherSuites = values.ciphers ? parseCipherSuites('--ciphers', values.ciphers) : undefined;
  const chain = values.cert ? readTextFile('--cert', values.cert) : DEFAULT_CERTIFICATE_PEM;
  const key = values.key ? readTextFile('--key', values.key) : DEFAULT_PRIVATE_KEY_PEM;
  checkCertificate(chain, key, values.cert ? `--cert ${values.cert}` : 'built-in certificate');
  const qlogDir = values['qlog-dir'] ? ensureFolder('--qlog-dir', values['qlog-dir']) : undefined;
  const log = new Log(process.stdout, values.quiet === true);
  const root = positionals[0] ?? '.';
  const serverConfig: ServerConfig = {
    root,
    listen,
    certificateChain: chain,
    privateKey: key,
    ...(values.retry ? { retry: true } : {}),
    ...(preferred.length > 0 ? { preferredAddresses: preferred } : {}),
    ...(qlogDir ? { qlogDir } : {}),
    ...(values['keylog-file'] ? { keyLogFile: values['keylog-file'] } : {}),
    ...(cipherSuites ? { cipherSuites } : {}),
    ...(transport ? { transport } : {}),
    ...(backend ? { backend } : {}),
    log,
  };
  if (workers !== undefined) {
    await runClusterServer(serverConfig, workers);
    return ExitCode.ok;
  }
  const server = await startServer(serverConfig);
  if (backend) log.info(describeBackend(backend));
  const show = (a: SocketAddress[]): string => a.map(formatAddress).join(', ');
  log.info(
    `serving ${root} over h3 and hq-interop on ${show(server.addresses)}` +
      (server.preferred.length > 0 ? `, preferred address ${show(server.preferred)}` : '') +
      (values.retry ? ', with Retry' : '') +
      (values.cert ? '' : ' (built-in self-signed certificate)'),
  );
  // Machine-readable line for scripts and tests.
  process.stdout.write(`listening ${show(server.addresses)}\n`);
  await new Promise<void>((resolve) => {
    let stopping = false;
    const stop = (signal: string): void => {
      if (stopping) {
        process.exit(130);
      }
      stopping = true;
      log.info(`${signal}: closing`);
      void server.close().then(resolve, resolve);
    };
    process.on('SIGINT', () => stop('SIGINT'));
    process.on('SIGTERM', () => stop('SIGTERM'));
  });
  return ExitCode.ok;
}

async function clientCommand(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, {
    output: { type: 'string', short: 'o' },
    alpn: { type: 'string' },
    ca: { type: 'string' },
    insecure: { type: 'boolean', short: 'k' },
    'session-file': { type: 'string' },
    'early-data': { type: 'boolean' },
    parallel: { type: 'string' },
    'migrate-after': { type: 'string' },
    'key-update-after': { type: 'string' },
    'connect-to': { type: 'string' },
    timeout: { type: 'string' },
    ciphers: { type: 'string' },
    'quic-version': { type: 'string' },
    cc: { type: 'string' },
    'max-udp-payload-size': { type: 'string' },
    'qlog-dir': { type: 'string' },
    'keylog-file': { type: 'string' },
    quiet: { type: 'boolean', short: 'q' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help) {
    process.stdout.write(CLIENT_HELP);
    return ExitCode.ok;
  }
  if (positionals.length === 0) throw new UsageError('expected at least one URL');
  const urls = parseUrls(positionals, (m) => new UsageError(m));
  const alpn = parseChoice<Alpn>('--alpn', values.alpn ?? 'h3', ['h3', 'hq-interop']);
  if (values['early-data'] && !values['session-file'])
    throw new UsageError('--early-data needs --session-file');
  if (values.ca && values.insecure) throw new UsageError('--ca and --insecure exclude each other');
  const parallel = values.parallel ? parseInteger('--parallel', values.parallel, 1, 1000) : 4;
  const timeoutMs = values.timeout ? parseInteger('--timeout', values.timeout, 100, 600_000) : 10_000;
  const migrateAfterMs = values['migrate-after']
    ? parseInteger('--migrate-after', values['migrate-after'], 0, 3_600_000)
    : undefined;
  const keyUpdateAfterMs = values['key-update-after']
    ? parseInteger('--key-update-after', values['key-update-after'], 0, 3_600_000)
    : undefined;
  const connectTo = values['connect-to'] ? parseAddress('--connect-to', values['connect-to']) : undefined;
  const cipherSuites = values.ciphers ? parseCipherSuites('--ciphers', values.ciphers) : undefined;
  const version = values['quic-version']
    ? parseChoice('--quic-version', values['quic-version'], ['v1', 'v2']) === 'v2'
      ? 0x6b3343cf
      : 1
    : undefined;
  const transport = transportOf(values);
  const ca = values.ca ? readTextFile('--ca', values.ca) : undefined;
  const outputDir = values.output ? ensureFolder('--output', values.output) : undefined;
  const qlogDir = values['qlog-dir'] ? ensureFolder('--qlog-dir', values['qlog-dir']) : undefined;
  const quiet = values.quiet === true;
  const log = new Log(process.stderr, quiet);
  const r = await runClient({
    urls,
    alpn,
    parallel,
    timeoutMs,
    log,
    progress: quiet ? undefined : process.stderr,
    ...(outputDir ? { outputDir } : {}),
    ...(ca !== undefined ? { ca } : {}),
    ...(values.insecure ? { insecure: true } : {}),
    ...(values['session-file'] ? { sessionFile: values['session-file'] } : {}),
    ...(values['early-data'] ? { earlyData: true } : {}),
    ...(qlogDir ? { qlogDir } : {}),
    ...(values['keylog-file'] ? { keyLogFile: values['keylog-file'] } : {}),
    ...(migrateAfterMs !== undefined ? { migrateAfterMs } : {}),
    ...(keyUpdateAfterMs !== undefined ? { keyUpdateAfterMs } : {}),
    ...(connectTo ? { connectTo } : {}),
    ...(cipherSuites ? { cipherSuites } : {}),
    ...(version !== undefined ? { version } : {}),
    ...(transport ? { transport } : {}),
  });
  let failed = 0;
  for (const d of r.downloads) {
    if (d.error) {
      failed++;
      process.stderr.write(`error: GET ${d.url}: ${d.error}\n`);
    } else {
      process.stdout.write(`${d.status} ${d.size} ${d.sha256} ${d.file ?? d.url}\n`);
    }
  }
  return failed > 0 ? ExitCode.failure : ExitCode.ok;
}

async function demoCommand(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, {
    size: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help) {
    process.stdout.write(DEMO_HELP);
    return ExitCode.ok;
  }
  if (positionals.length > 0) throw new UsageError(`unexpected argument '${positionals[0]}'`);
  const mib = values.size ? parseInteger('--size', values.size, 1, 1024) : 20;
  return (await runDemo({ mib, log: new Log(process.stdout) })) ? ExitCode.ok : ExitCode.failure;
}

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  const help = { server: SERVER_HELP, client: CLIENT_HELP, demo: DEMO_HELP, lb: LB_HELP } as const;
  try {
    switch (command) {
      case 'server':
        return await serverCommand(rest);
      case 'client':
        return await clientCommand(rest);
      case 'demo':
        return await demoCommand(rest);
      case 'lb':
        return await lbCommand(rest);
      case undefined:
      case '-h':
      case '--help':
      case 'help': {
        const topic = rest[0] as keyof typeof help | undefined;
        process.stdout.write(topic && topic in help ? help[topic] : MAIN_HELP);
        return command === undefined ? ExitCode.usage : ExitCode.ok;
      }
      default:
        throw new UsageError(`unknown command '${command}'`);
    }
  } catch (e) {
    if (e instanceof UsageError) {
      const hint = command && command in help ? `feather-quic ${command} --help` : 'feather-quic --help';
      process.stderr.write(`feather-quic: ${e.message} (see '${hint}')\n`);
      return ExitCode.usage;
    }
    process.stderr.write(`feather-quic: error: ${oneLine(e)}\n`);
    return ExitCode.failure;
  }
}

// Run when executed directly (also through the npm bin symlink).
const code = await main(process.argv.slice(2));
process.exitCode = code;
// Endpoints unref their sockets when idle; anything still pending must not keep us alive.
setTimeout(() => process.exit(code), 200).unref();
