// The backend's side of a load balancer tunnel: a DatagramSocket that exchanges relay envelopes
// (src/node/envelope.ts) with one load balancer only. Given to QuicEndpoint.bind({ sockets:
// [{ socket, local: <LB public address> }] }), the endpoint sees each client's true address and
// the public address, so migration, NAT rebinding and path validation work through the LB.
// Heartbeats tell the LB this backend is alive (and which server ID it serves); close() says
// goodbye so the LB stops routing to it at once.
import type dgram from 'node:dgram';
import type { SocketAddress } from '../common/addr.js';
import { asBuffer } from '../common/bytes.js';
import { decodeEnvelope, encodeEnvelope, MAX_ENVELOPE_HEADER, writeEnvelopeHeader } from './envelope.js';
import {
  bindUdpSocket,
  type DatagramRemoteInfo,
  type DatagramSocket,
  type ProvidedSocket,
} from './socket.js';
import { type AddressInput, toSocketAddress } from './util.js';

// Control messages between a backend and its load balancer:
//   'F' 'Q' 0x80 type [server ID, 0..15 octets]
// The third octet can never be an envelope version (1), so the two never mix.
export const CONTROL_MARKER = 0x80;
export const ControlType = {
  /** "I am alive and serve this server ID." */
  Heartbeat: 1,
  /** "I am going away": the LB stops routing to this backend now. */
  Goodbye: 2,
} as const;
export type ControlType = (typeof ControlType)[keyof typeof ControlType];

export interface ControlMessage {
  readonly type: ControlType;
  /** The sender's server ID (a view; may be empty). */
  readonly serverId: Uint8Array;
}

export function encodeControl(type: ControlType, serverId: Uint8Array = new Uint8Array(0)): Buffer {
  if (serverId.length > 15) throw new RangeError('server ID longer than 15 octets');
  const out = Buffer.allocUnsafe(4 + serverId.length);
  out[0] = 0x46;
  out[1] = 0x51;
  out[2] = CONTROL_MARKER;
  out[3] = type;
  out.set(serverId, 4);
  return out;
}

/** The control message in `buf`, or undefined (never throws). */
export function decodeControl(buf: Uint8Array): ControlMessage | undefined {
  if (buf.length < 4 || buf.length > 19 || buf[2] !== CONTROL_MARKER) return undefined;
  if (buf[0] !== 0x46 || buf[1] !== 0x51) return undefined;
  const type = buf[3];
  if (type !== ControlType.Heartbeat && type !== ControlType.Goodbye) return undefined;
  return { type, serverId: buf.subarray(4) };
}

/** The RFC 5952 form the envelope decoder produces (so comparisons with decoded text work). */
export function canonicalAddress(a: SocketAddress): SocketAddress {
  const d = decodeEnvelope(encodeEnvelope(a, a, new Uint8Array(0)));
  if (d === undefined) throw new RangeError(`not an IP address: ${a.address}`);
  return { address: d.peer.address, port: a.port };
}

/** Binds a UDP socket on a literal address (exclusive), with large buffers when allowed. */
export function bindUdp(
  a: SocketAddress,
  recvBufferSize = 4 << 20,
  sendBufferSize = 4 << 20,
): Promise<dgram.Socket> {
  return bindUdpSocket(a, { recvBufferSize, sendBufferSize });
}

export interface TunnelSocketOptions {
  /** This backend's tunnel address (bound here). */
  address: AddressInput;
  /** The load balancer's tunnel address: the only peer this socket talks to. */
  loadBalancer: AddressInput;
  /** The load balancer's public address: the `local` address of every client path. */
  publicAddress: AddressInput;
  /** Announced in heartbeats so the LB can check its configuration. */
  serverId?: Uint8Array;
  /** Milliseconds between heartbeats (default 250; 0: none). Keep it well under the LB's health timeout. */
  heartbeatInterval?: number;
  recvBufferSize?: number;
  sendBufferSize?: number;
}

export interface TunnelSocketStats {
  /** Envelopes from the LB delivered to the endpoint, and their payload octets. */
  datagramsIn: number;
  bytesIn: number;
  /** Datagrams the endpoint sent (enveloped to the LB), and their payload octets. */
  datagramsOut: number;
  bytesOut: number;
  heartbeatsSent: number;
  sendErrors: number;
  dropped: { unknownSender: number; malformed: number; wrongLocal: number };
}

type MessageListener = (msg: Buffer, rinfo: DatagramRemoteInfo) => void;
type ErrorListener = (error: Error) => void;

export class TunnelSocket implements DatagramSocket {
  /** The bound tunnel address. */
  readonly address: SocketAddress;
  readonly loadBalancer: SocketAddress;
  readonly publicAddress: SocketAddress;
  readonly #socket: dgram.Socket;
  readonly #serverId: Uint8Array;
  readonly #messageListeners: MessageListener[] = [];
  readonly #errorListeners: ErrorListener[] = [];
  readonly #stats: TunnelSocketStats = {
    datagramsIn: 0,
    bytesIn: 0,
    datagramsOut: 0,
    bytesOut: 0,
    heartbeatsSent: 0,
    sendErrors: 0,
    dropped: { unknownSender: 0, malformed: 0, wrongLocal: 0 },
  };
  #timer: NodeJS.Timeout | undefined;
  #refed = true;
  #closed = false;
  /** The envelope header of the last peer sent to (immutable once built, so queued sends may share it). */
  #lastAddress = '';
  #lastPort = -1;
  #lastHeader: Buffer = Buffer.alloc(0);

  /** Binds the tunnel socket, connects it to the load balancer and starts the heartbeats. */
  static async bind(options: TunnelSocketOptions): Promise<TunnelSocket> {
    const own = toSocketAddress(options.address);
    const lb = canonicalAddress(toSocketAddress(options.loadBalancer));
    const pub = canonicalAddress(toSocketAddress(options.publicAddress));
    if (own.address.includes(':') !== lb.address.includes(':')) {
      throw new RangeError('the tunnel address and the load balancer address must be of one family');
    }
    const socket = await bindUdp(own, options.recvBufferSize, options.sendBufferSize);
    // Connected: the kernel delivers only the LB's datagrams, and sends need no address.
    await new Promise<void>((resolve, reject) => {
      const fail = (e: Error): void => {
        socket.close();
        reject(e);
      };
      socket.once('error', fail);
      socket.connect(lb.port, lb.address, () => {
        socket.off('error', fail);
        resolve();
      });
    });
    const a = socket.address();
    return new TunnelSocket(socket, { address: a.address, port: a.port }, lb, pub, options);
  }

  private constructor(
    socket: dgram.Socket,
    address: SocketAddress,
    lb: SocketAddress,
    pub: SocketAddress,
    options: TunnelSocketOptions,
  ) {
    this.#socket = socket;
    this.address = address;
    this.loadBalancer = lb;
    this.publicAddress = pub;
    this.#serverId = options.serverId?.slice() ?? new Uint8Array(0);
    socket.on('message', this.#onMessage);
    socket.on('error', this.#onError);
    const every = options.heartbeatInterval ?? 250;
    if (every > 0) {
      this.#heartbeat();
      this.#timer = setInterval(this.#heartbeat, every);
    }
  }

  /** What QuicEndpoint.bind({ sockets }) takes: this socket, seen at the LB's public address. */
  get provided(): ProvidedSocket {
    return { socket: this, local: this.publicAddress };
  }

  get stats(): TunnelSocketStats {
    return { ...this.#stats, dropped: { ...this.#stats.dropped } };
  }

  /** Sends `data` to the client `address`:`port` through the load balancer. */
  send(
    data: Uint8Array,
    port: number,
    address: string,
    callback?: (error: Error | null, bytes?: number) => void,
  ): void {
    if (this.#closed) {
      callback?.(new Error('tunnel socket closed'));
      return;
    }
    if (port !== this.#lastPort || address !== this.#lastAddress) {
      const h = Buffer.allocUnsafe(MAX_ENVELOPE_HEADER);
      const n = writeEnvelopeHeader(h, { address, port }, this.publicAddress);
      this.#lastHeader = h.subarray(0, n);
      this.#lastAddress = address;
      this.#lastPort = port;
    }
    const st = this.#stats;
    st.datagramsOut++;
    st.bytesOut += data.length;
    this.#socket.send([this.#lastHeader, data], callback ?? this.#onSent);
  }

  on(event: 'message', listener: MessageListener): this;
  on(event: 'error', listener: ErrorListener): this;
  on(event: 'message' | 'error', listener: MessageListener | ErrorListener): this {
    if (event === 'message') this.#messageListeners.push(listener as MessageListener);
    else this.#errorListeners.push(listener as ErrorListener);
    return this;
  }

  /** Says goodbye to the load balancer, then closes the socket. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
    const s = this.#socket;
    try {
      s.send(encodeControl(ControlType.Goodbye, this.#serverId), () => s.close());
    } catch {
      s.close();
    }
  }

  ref(): this {
    this.#refed = true;
    this.#socket.ref();
    this.#timer?.ref();
    return this;
  }

  unref(): this {
    this.#refed = false;
    this.#socket.unref();
    this.#timer?.unref();
    return this;
  }

  get refed(): boolean {
    return this.#refed;
  }

  #onMessage = (msg: Buffer, rinfo: dgram.RemoteInfo): void => {
    if (this.#closed) return;
    const st = this.#stats;
    const lb = this.loadBalancer;
    // Trust boundary: only the load balancer speaks on this socket.
    if (rinfo.port !== lb.port || rinfo.address !== lb.address) {
      st.dropped.unknownSender++;
      return;
    }
    const env = decodeEnvelope(msg);
    if (env === undefined) {
      st.dropped.malformed++;
      return;
    }
    const pub = this.publicAddress;
    if (env.local.port !== pub.port || env.local.address !== pub.address) {
      st.dropped.wrongLocal++;
      return;
    }
    st.datagramsIn++;
    st.bytesIn += env.payload.length;
    const payload = asBuffer(env.payload);
    const listeners = this.#messageListeners;
    for (let i = 0; i < listeners.length; i++) listeners[i]!(payload, env.peer);
  };

  #onError = (e: Error): void => {
    for (const f of this.#errorListeners) f(e);
  };

  #onSent = (e: Error | null): void => {
    if (e) {
      this.#stats.sendErrors++;
      this.#onError(e);
    }
  };

  /** Heartbeat errors (the LB not there yet: ECONNREFUSED) are counted, not reported. */
  #onHeartbeatSent = (e: Error | null): void => {
    if (e) this.#stats.sendErrors++;
  };

  #heartbeat = (): void => {
    if (this.#closed) return;
    this.#stats.heartbeatsSent++;
    this.#socket.send(encodeControl(ControlType.Heartbeat, this.#serverId), this.#onHeartbeatSent);
  };
}
