// What QuicEndpoint needs from a UDP socket. A bound node:dgram socket is one; so is anything
// that carries datagrams another way (a load balancer tunnel, a worker's forwarding channel),
// as long as it reports each datagram's true remote address and the local address it arrived at.
import type { SocketAddress } from '../common/addr.js';

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
