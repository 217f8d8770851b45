// What QuicEndpoint needs from a UDP socket. A bound node:dgram socket is one; so is anything
// that carries datagrams another way (a load balancer tunnel, a worker's forwarding channel),
// as long as it reports each datagram's true remote address and the local address it arrived at.
import dgram from 'node:dgram';
import { addressFamily, type SocketAddress } from '../common/addr.js';

export interface DatagramRemoteInfo {
  readonly address: string;
  readonly port: number;
}

export interface DatagramSocket {
  /** Sends one datagram; errors go to `callback`, else to the 'error' event. */
  send(
    data: Uint8Array,
    port: number,
    address: string,
    callback?: (error: Error | null, bytes?: number) => void,
  ): void;
  on(event: 'message', listener: (msg: Buffer, rinfo: DatagramRemoteInfo) => void): this;
  on(event: 'error', listener: (error: Error) => void): this;
  close(): void;
  ref(): this;
  unref(): this;
}

/** A socket made outside the endpoint, with the local address its datagrams arrive at. */
export interface ProvidedSocket {
  readonly socket: DatagramSocket;
  /** The path's local address (e.g. the shared or public address, not a tunnel's own). */
  readonly local: SocketAddress;
}

export interface BindUdpOptions {
  /** false: a node:cluster worker shares the primary's socket (default true: our own). */
  readonly exclusive?: boolean;
  /** IPv6 sockets only accept IPv6 (no IPv4-mapped addresses). */
  readonly ipv6Only?: boolean;
  /** SO_RCVBUF / SO_SNDBUF in octets (default 4 MiB; the OS may cap or refuse them). */
  readonly recvBufferSize?: number;
  readonly sendBufferSize?: number;
}

const DEFAULT_BUFFER = 4 * 1024 * 1024;

/** Addresses are literals here (host names are resolved once, up front): skip dns.lookup. */
export function literalLookup(
  address: string,
  family: unknown,
  cb: (err: Error | null, address: string, family: number) => void,
): void {
  cb(null, address, typeof family === 'number' ? family : address.includes(':') ? 6 : 4);
}

/**
 * A node:dgram socket bound on a literal address (never connect()ed), with large buffers when the
 * OS allows them. Rejects with the bind error after closing the socket.
 */
export async function bindUdpSocket(requested: SocketAddress, o: BindUdpOptions = {}): Promise<dgram.Socket> {
  const v6 = addressFamily(requested) === 6;
  const socket = dgram.createSocket({
    type: v6 ? 'udp6' : 'udp4',
    lookup: literalLookup as never,
    ...(v6 && o.ipv6Only ? { ipv6Only: true } : {}),
  });
  await new Promise<void>((resolve, reject) => {
    const onError = (e: Error): void => {
      try {
        socket.close();
      } catch {
        // Never bound.
      }
      reject(e);
    };
    socket.once('error', onError);
    socket.bind({ port: requested.port, address: requested.address, exclusive: o.exclusive ?? true }, () => {
      socket.off('error', onError);
      resolve();
    });
  });
  for (const [set, size] of [
    [(n: number) => socket.setRecvBufferSize(n), o.recvBufferSize ?? DEFAULT_BUFFER],
    [(n: number) => socket.setSendBufferSize(n), o.sendBufferSize ?? DEFAULT_BUFFER],
  ] as const) {
    try {
      set(size);
    } catch {
      // The OS refused: keep its default.
    }
  }
  return socket;
}
