// Shared set-up for the simulator's own tests.
import { type SocketAddress, socketAddress } from '../../../src/common/addr.js';
import type { LinkConfig } from '../../sim/link.js';
import { Simulation } from '../../sim/sim.js';
import { RateSender, type RateSenderOptions, SinkEndpoint } from '../../sim/toy-endpoints.js';
import type { DatagramEvent } from '../../sim/types.js';

export const A = '10.0.0.1';
export const B = '10.0.0.2';
export const addr = (ip: string, port: number): SocketAddress => socketAddress(ip, port);

export interface OneWay {
  sim: Simulation;
  sender: RateSender;
  sink: SinkEndpoint;
  trace: DatagramEvent[];
}

/** A RateSender at A:1000 sending over one link to a sink at B:2000. */
export function oneWay(
  seed: number,
  link: Partial<LinkConfig>,
  send: Omit<RateSenderOptions, 'local' | 'remote'>,
): OneWay {
  const sim = new Simulation({ seed });
  sim.connect(A, B, link);
  const trace: DatagramEvent[] = [];
  sim.onDatagram((ev) => trace.push({ ...ev, data: ev.data.slice() }));
  const sender = new RateSender({ local: addr(A, 1000), remote: addr(B, 2000), ...send });
  const sink = new SinkEndpoint();
  sim.addHost({ name: 'sender', endpoint: sender, addresses: [A] });
  sim.addHost({ name: 'sink', endpoint: sink, addresses: [B] });
  return { sim, sender, sink, trace };
}
