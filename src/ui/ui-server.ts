// The `adaptlm ui` web server: node:http, bound to 127.0.0.1 unless told otherwise, serving the one page,
// its script and stylesheet (from this package: no CDN) and the JSON API (ui-api.ts).
//
// Safety: a loopback server still answers any page the user's browser opens, so (1) requests whose Host is
// not this server's loopback name are refused (a DNS-rebinding site cannot read runs or spend model calls),
// (2) POSTs must be application/json (no cross-site form posts, and no CORS is ever granted), (3) bodies are
// size-limited, (4) every answer carries a strict Content-Security-Policy, and (5) errors never carry secrets.

import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { AdaptlmError } from "../errors.js";
import type { Playground } from "./playground.js";
import type { RunCatalog } from "./run-catalog.js";
import { UiApi } from "./ui-api.js";
import { UiError } from "./ui-error.js";
import { readJsonBody, sendError, sendJson, sendText } from "./ui-http.js";
import { UI_PAGE_HTML, UI_SCRIPT, UI_STYLE } from "./ui-page.js";

export interface UiServerOptions {
  catalog: RunCatalog;
  /** The playground's model; without one the playground page says how to start the UI with a model. */
  playground?: Playground;
  /** Default 127.0.0.1. Another address exposes the runs (and the model) to the network. */
  host?: string;
  /** Default 0 (any free port). */
  port?: number;
  /** Largest request body (default 256 KiB). */
  maxBodyBytes?: number;
  /** Strings never sent in an answer (API keys). */
  secrets?: readonly string[];
  /** Called after each request (the CLI logs them). */
  onRequest?: (event: { method: string; path: string; status: number; ms: number }) => void;
}

export interface RunningUiServer {
  /** e.g. http://127.0.0.1:41234/ */
  url: string;
  host: string;
  port: number;
  close(): Promise<void>;
}

export class UiServerError extends AdaptlmError {}

const LOOPBACK_HOSTS = new Set(["127.0.0.1", "localhost", "::1", "[::1]"]);

export function isLoopbackHost(host: string): boolean {
  return LOOPBACK_HOSTS.has(host) || /^127\.\d+\.\d+\.\d+$/.test(host);
}

export async function startUiServer(options: UiServerOptions): Promise<RunningUiServer> {
  const host = options.host ?? "127.0.0.1";
  const api = new UiApi(options.catalog, options.playground);
  const secrets = options.secrets ?? [];
  const maxBodyBytes = options.maxBodyBytes ?? 256 * 1024;
  let port = options.port ?? 0;

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<number> => {
    const url = new URL(req.url ?? "/", "http://ui.invalid");
    const method = req.method ?? "GET";
    if (isLoopbackHost(host) && !allowedHostHeader(req.headers.host, port)) {
      throw new UiError(
        "UI_HOST_REFUSED",
        `this UI answers only requests addressed to 127.0.0.1:${port} or localhost:${port}`,
        403,
      );
    }
    const route = `${method} ${url.pathname}`;
    switch (route) {
      case "GET /":
      case "GET /index.html":
        sendText(res, 200, "text/html; charset=utf-8", UI_PAGE_HTML);
        return 200;
      case "GET /ui.js":
        sendText(res, 200, "text/javascript; charset=utf-8", UI_SCRIPT);
        return 200;
      case "GET /ui.css":
        sendText(res, 200, "text/css; charset=utf-8", UI_STYLE);
        return 200;
      case "GET /api/runs":
        sendJson(res, 200, options.catalog.listing());
        return 200;
      case "POST /api/reload":
        options.catalog.reload();
        sendJson(res, 200, options.catalog.listing());
        return 200;
      case "GET /api/run":
        sendJson(res, 200, api.runDetail(url.searchParams.get("id") ?? ""));
        return 200;
      case "GET /api/examples":
        sendJson(res, 200, api.examples(url.searchParams));
        return 200;
      case "GET /api/chart":
        sendText(res, 200, "image/svg+xml; charset=utf-8", await api.chart(url.searchParams));
        return 200;
      case "GET /api/compare":
        sendJson(res, 200, api.compare(url.searchParams));
        return 200;
      case "GET /api/playground":
        sendJson(res, 200, api.playgroundInfo());
        return 200;
      case "POST /api/playground": {
        const body = await readJsonBody(req, maxBodyBytes);
        sendJson(res, 200, await api.runPlayground(body));
        return 200;
      }
    }
    const known = [
      "/",
      "/index.html",
      "/ui.js",
      "/ui.css",
      "/api/runs",
      "/api/reload",
      "/api/run",
      "/api/examples",
      "/api/chart",
      "/api/compare",
      "/api/playground",
    ];
    if (known.includes(url.pathname))
      throw new UiError("UI_METHOD", `${method} is not allowed on ${url.pathname}`, 405);
    throw new UiError("UI_NOT_FOUND", `no page or endpoint at ${url.pathname}`, 404);
  };

  const server = createServer((req, res) => {
    const started = process.hrtime.bigint();
    const finish = (status: number) =>
      options.onRequest?.({
        method: req.method ?? "GET",
        path: (req.url ?? "/").split("?")[0] ?? "/",
        status,
        ms: Number((process.hrtime.bigint() - started) / 1_000_000n),
      });
    handle(req, res).then(finish, (error: unknown) => finish(sendError(res, error, secrets)));
  });
  // a slow or stalled client cannot hold a connection forever
  server.requestTimeout = 10 * 60_000;
  server.headersTimeout = 30_000;

  await new Promise<void>((resolve, reject) => {
    const onError = (error: NodeJS.ErrnoException) => {
      reject(
        new UiServerError(
          "UI_LISTEN",
          error.code === "EADDRINUSE"
            ? `port ${port} on ${host} is already in use: pick another --port (0 = any free port)`
            : `cannot listen on ${host}:${port} (${error.message})`,
          { cause: error },
        ),
      );
    };
    server.once("error", onError);
    server.listen(port, host, () => {
      server.off("error", onError);
      resolve();
    });
  });
  port = (server.address() as AddressInfo).port;
  const shownHost = host.includes(":") ? `[${host}]` : host;
  return {
    url: `http://${shownHost}:${port}/`,
    host,
    port,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        // open keep-alive connections (a browser tab) would otherwise hold close() open
        server.closeAllConnections();
      }),
  };
}

/** Host header "127.0.0.1:PORT", "localhost:PORT" or "[::1]:PORT" (any loopback name, this port). */
function allowedHostHeader(header: string | undefined, port: number): boolean {
  if (header === undefined) return false;
  const match = /^(\[[^\]]+\]|[^:]+)(?::(\d+))?$/.exec(header.trim().toLowerCase());
  if (!match) return false;
  const name = match[1] as string;
  const headerPort = match[2] === undefined ? 80 : Number(match[2]);
  return isLoopbackHost(name) && headerPort === port;
}
