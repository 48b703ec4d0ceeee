import { DEFAULTS } from '../config/defaults.js';

/** The `--help` text. Kept next to the option table in args.ts; docs/cli.md repeats it. */
export const USAGE = `Usage: switchyard [options]

A reverse proxy and load balancer on the command line.

  switchyard --listen 8080 --target http://127.0.0.1:3001 --target http://127.0.0.1:3002
  switchyard --config switchyard.config.json

Options:
  -l, --listen <[host:]port>   address to listen on (default 127.0.0.1:8080; the host
                               defaults to 127.0.0.1, give 0.0.0.0 or :: to expose it)
  -t, --target <url>           an upstream (http://host:port, https://…, unix:/path.sock);
                               repeat for several (replaces the config's targets)
      --discover <name>        find targets in DNS: A/AAAA records of <name> (or SRV)
      --discover-type <t>      A, AAAA or SRV (default: A and AAAA)
      --discover-port <n>      the targets' port for A/AAAA (default 80, 443 for https)
      --discover-scheme <s>    http (default) or https
      --discover-interval <ms> time between lookups (default ${DEFAULTS.discover.interval})
      --dns-server <host:port> DNS server to ask; repeat for several (default: the system's)
  -b, --balancer <policy>      round_robin (default), random, first, least_conn, ip_hash,
                               uri_hash, header:<Name> or cookie:<name>
      --health-path <path>     active health check: GET <path> on each target
      --health-interval <ms>   milliseconds between health checks (default ${DEFAULTS.healthCheck.interval})
      --retries <n>            extra attempts on another target after a failure (default ${DEFAULTS.retries})
      --timeout <ms>           upstream response timeout (default ${DEFAULTS.timeout})
      --connect-timeout <ms>   time to connect to an upstream (default ${DEFAULTS.connectTimeout})
      --preserve-host          send the client's Host header upstream (default: the target's)
      --header-up <rule>       request header rule: 'Name: value' sets (placeholders such as
                               {addr}, {host}, {method} work), '-Name' removes; repeatable
      --header-down <rule>     the same for response headers
      --ws                     proxy WebSocket upgrades
      --http2                  https targets may negotiate HTTP/2
      --tls-ca <file>          trust this CA (PEM) for https targets, instead of the bundled ones
      --insecure               do not verify https targets' certificates
  -w, --workers <n|auto>       worker processes sharing the port (default 1; auto = one per core)
      --drain-timeout <ms>     on SIGINT/SIGTERM, wait this long for requests in flight
                               before closing their connections (default 10000)
      --keep-alive-timeout <ms>
                               keep idle client connections open this long (default 5000,
                               Node's); above your load balancer's idle timeout
  -c, --config <file>          a .json, .mjs, .js or .cjs file holding proxy() options plus
                               "listen"; flags override the file
      --admin <[host:]port>    serve /metrics, /stats and /healthz on this address (off by
                               default; the host defaults to 127.0.0.1)
  -q, --quiet                  no per-request log lines
      --log-format <format>    text (default), or json: one JSON object per line
  -h, --help                   show this help
  -v, --version                show the version

Signals: SIGINT/SIGTERM drain and exit; SIGHUP reloads --config without dropping requests.

Exit codes: 0 after a clean shutdown, 1 on a runtime failure (port in use, drain timeout),
2 for invalid flags or config.
`;
