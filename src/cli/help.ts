// Help texts of the `feather-quic` command.

export const MAIN_HELP = `feather-quic — QUIC, TLS 1.3 and HTTP/3 for Node.js

Usage:
  feather-quic server [options] [FOLDER]   serve a folder over HTTP/3 and hq-interop
  feather-quic client [options] URL...     fetch URLs over HTTP/3 (or hq-interop)
  feather-quic demo                        server + client on loopback, with a live migration
  feather-quic lb [options]                QUIC-LB load balancer in front of server backends

Run 'feather-quic <command> --help' for the options of a command.
Exit codes: 0 success, 1 runtime or protocol failure, 2 usage error.
`;

export const SERVER_HELP = `Usage: feather-quic server [options] [FOLDER]

Serves FOLDER (default: the current folder) over HTTP/3 (ALPN h3) and HTTP/0.9 (hq-interop)
on one QUIC endpoint, until SIGINT or SIGTERM (then closes connections and exits 0).

Options:
  -l, --listen ADDR:PORT          address to listen on, repeatable (default 127.0.0.1:4433)
      --cert FILE                 certificate chain (PEM, leaf first)
      --key FILE                  private key (PEM) of the certificate
                                  (without both: a built-in self-signed certificate for
                                  localhost, 127.0.0.1 and ::1 — for tests only)
      --retry                     send a Retry to every new client (address validation)
      --preferred-address ADDR:PORT
                                  also listen there and advertise it as the preferred
                                  address (RFC 9000 §9.6); one per address family
      --ciphers LIST              accepted cipher suites: aes128-gcm,aes256-gcm,chacha20
      --cc cubic|newreno          congestion control (default cubic)
      --max-udp-payload-size N    largest UDP payload (1200..65527)
      --qlog-dir DIR              write one qlog file per connection
      --keylog-file FILE          append TLS secrets (SSLKEYLOGFILE format)
      --workers N                 serve from N processes (1..64) sharing the --listen
                                  address; each datagram is relayed to the process that
                                  owns its connection (QUIC-LB connection IDs), so
                                  migration works; log lines start with [wI]. One --listen,
                                  no --preferred-address
  -q, --quiet                     print only errors
  -h, --help                      show this help

Behind a load balancer ('feather-quic lb --help'; instead of --listen):
      --behind-lb ADDR:PORT       the balancer's public address (exactly its --listen)
      --tunnel ADDR:PORT          this server's tunnel socket (the balancer's --backend SID=...)
      --lb-peer ADDR:PORT         the balancer's tunnel address (its --tunnel)
      --server-id HEX             this server's QUIC-LB server ID, put in every connection ID
      --quic-lb-key HEX           the QUIC-LB key (16 octets); --nonce-length N (default 8) and
                                  --config-rotation N (default 0) must match the balancer's
      --shared-keys FILE          a hex secret (>= 16 octets) shared by every backend: stateless
                                  reset, Retry/NEW_TOKEN and session ticket keys derive from it,
                                  so resets, tokens and resumption work on any backend
`;

export const CLIENT_HELP = `Usage: feather-quic client [options] URL...

Fetches https:// URLs of one server over one QUIC connection (HTTP/3 by default). Without
--output, prints the status, size and sha256 of each body.

Options:
  -o, --output DIR                save each body as DIR/<last path segment>
      --alpn h3|hq-interop        application protocol (default h3)
      --ca FILE                   trust anchors (PEM) instead of the system's
  -k, --insecure                  do not verify the server's certificate
      --session-file FILE         resume the session saved in FILE, save the new one after
      --early-data                send the requests in 0-RTT (with --session-file)
      --parallel N                requests in flight at once (default 4)
      --migrate-after MS          move the connection to a new local socket MS ms after the
                                  handshake (path validation, then switch)
      --key-update-after MS       start a key update MS ms after the handshake
      --connect-to ADDR:PORT      connect there instead of the URL's host
      --timeout MS                connection and idle timeout (default 10000)
      --ciphers LIST              offered cipher suites: aes128-gcm,aes256-gcm,chacha20
      --quic-version v1|v2        version of the first Initial (default v1)
      --cc cubic|newreno          congestion control (default cubic)
      --qlog-dir DIR              write a qlog file of the connection
      --keylog-file FILE          append TLS secrets (SSLKEYLOGFILE format)
  -q, --quiet                     print only the results and errors
  -h, --help                      show this help
`;

export const DEMO_HELP = `Usage: feather-quic demo [options]

Starts a server on 127.0.0.1 that serves a generated file and advertises a preferred address
on a second loopback socket, then downloads the file over HTTP/3 while the client follows the
preferred address, migrates to a new local socket and updates its keys — printing each step.

Options:
      --size MIB                  size of the file (default 20)
  -h, --help                      show this help
`;
