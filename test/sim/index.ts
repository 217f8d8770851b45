// The deterministic network simulator (see sim.ts for the facade).
export * from './amplification.js';
export * from './attacker.js';
export * from './clock.js';
export * from './host.js';
export * from './link.js';
export * from './nat.js';
export * from './network.js';
export * from './scheduler.js';
export * from './seeds.js';
export * from './sim.js';
export * from './toy-endpoints.js';
export * from './types.js';
