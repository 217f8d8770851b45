// The Node runtime: UDP sockets, timers, the async API, web streams, qlog and key log files.

export {
  type ClusterEndpointOptions,
  type ClusterEvent,
  ClusterPrimary,
  type ClusterProcessInfo,
  type ClusterSecrets,
  type ClusterServerOptions,
  ClusterWorker,
  type ClusterWorkerInfo,
  type ClusterWorkerStats,
  startClusterServer,
} from './cluster.js';
export type {
  ConnectionRuntime,
  HandshakeInfo,
  PathResult,
  ProbeOptions,
  QuicConnectionEventMap,
  StreamEvent,
  StreamEventSink,
} from './connection.js';
export { diagnosticsChannels, QuicConnection } from './connection.js';
export type {
  QuicConnectOptions,
  QuicEndpointOptions,
  QuicEndpointStats,
  QuicServerOptions,
} from './endpoint.js';
export { LOOPBACK_MAX_UDP_PAYLOAD, QuicEndpoint } from './endpoint.js';
export {
  closeInfoToError,
  isQuicError,
  QUIC_ERROR_BRAND,
  QuicAbortError,
  QuicApplicationError,
  QuicConnectionClosedError,
  QuicEndpointClosedError,
  QuicError,
  QuicErrorCode,
  QuicHandshakeFailedError,
  QuicHttpError,
  QuicIdleTimeoutError,
  QuicInvalidArgumentError,
  QuicMigrationError,
  QuicPathError,
  QuicSocketError,
  QuicStatelessResetError,
  QuicStreamResetError,
  QuicStreamUsageError,
  QuicTransportError,
} from './errors.js';
export type {
  BodyInit,
  FieldLine,
  H3ClientOptions,
  H3Handler,
  H3RequestInit,
  H3Response,
  H3ResponseInit,
  H3ServerOptions,
  HeadersInit,
} from './h3.js';
export { H3Client, H3Request, H3Server, H3ServerConnection, serveH3, staticFiles } from './h3.js';
export type { StreamConsumer } from './h3-transport.js';
export { markFreshChunks, QuicStreamTransport, StreamLimitError } from './h3-transport.js';
export type { HqHandler } from './hq.js';
export { HqClient, HqServer, HqServerConnection, hqStaticFiles } from './hq.js';
export { KeyLogWriter } from './keylog.js';
export {
  type LoadBalancerRouteMessage,
  loadBalancerRouteChannel,
  QuicLoadBalancer,
  type QuicLoadBalancerBackendStats,
  type QuicLoadBalancerOptions,
  type QuicLoadBalancerStats,
  type SharedKeys,
  sharedKeys,
} from './load-balancer.js';
export { QlogFileSink } from './qlog.js';
export type { DatagramRemoteInfo, DatagramSocket, ProvidedSocket } from './socket.js';
export { errorCodeOf, QuicStream } from './stream.js';
export { TunnelSocket, type TunnelSocketOptions, type TunnelSocketStats } from './tunnel-socket.js';
export type { AddressInput } from './util.js';
