// Encryption levels (RFC 9001 §2.1) and packet-number spaces (RFC 9000 §12.3).

/** Encryption level; numeric so it can index arrays. */
export const Level = {
  Initial: 0,
  /** 0-RTT keys (client write / server read). */
  EarlyData: 1,
  Handshake: 2,
  /** 1-RTT keys. */
  Application: 3,
} as const;
export type Level = (typeof Level)[keyof typeof Level];

/** Packet-number space; numeric so it can index arrays. 0-RTT and 1-RTT share Application. */
export const Space = {
  Initial: 0,
  Handshake: 1,
  Application: 2,
} as const;
export type Space = (typeof Space)[keyof typeof Space];

export function spaceOfLevel(level: Level): Space {
  return level === Level.Initial
    ? Space.Initial
    : level === Level.Handshake
      ? Space.Handshake
      : Space.Application;
}

export const levelNames = ['initial', 'early_data', 'handshake', 'application'] as const;
export const spaceNames = ['initial', 'handshake', 'application'] as const;

export type Role = 'client' | 'server';
