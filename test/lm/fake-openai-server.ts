// A tiny OpenAI-compatible HTTP server for tests, on 127.0.0.1 and an OS-chosen port. Each test gives it a
// handler that decides the answer to each request (canned JSON, an HTTP error, a delay); the server records
// every request (path, parsed body, headers) and the most requests it ever had in flight at once.

import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

export interface RecordedRequest {
  path: string;
  body: Record<string, unknown>;
  headers: IncomingMessage["headers"];
  /** Order of arrival, from 0. */
  index: number;
}

export interface FakeReply {
  status?: number;
  headers?: Record<string, string>;
  /** Sent as JSON unless it is a string. */
  body?: unknown;
  /** Wait this long before answering (for timeouts and concurrency). */
  delayMs?: number;
}

export type FakeHandler = (request: RecordedRequest) => FakeReply | Promise<FakeReply>;

export interface FakeServer {
  baseUrl: string;
  requests: RecordedRequest[];
  maxInFlight: number;
  close(): Promise<void>;
}

export async function startFakeServer(handler: FakeHandler): Promise<FakeServer> {
  const requests: RecordedRequest[] = [];
  const state = { inFlight: 0, maxInFlight: 0 };
  const timers = new Set<NodeJS.Timeout>();
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    state.inFlight++;
    state.maxInFlight = Math.max(state.maxInFlight, state.inFlight);
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", async () => {
      const text = Buffer.concat(chunks).toString("utf8");
      const recorded: RecordedRequest = {
        path: req.url ?? "",
        body: text ? (JSON.parse(text) as Record<string, unknown>) : {},
        headers: req.headers,
        index: requests.length,
      };
      requests.push(recorded);
      const reply = await handler(recorded);
      const send = (): void => {
        state.inFlight--;
        if (res.destroyed) return;
        const body = typeof reply.body === "string" ? reply.body : JSON.stringify(reply.body ?? {});
        res.writeHead(reply.status ?? 200, { "content-type": "application/json", ...reply.headers });
        res.end(body);
      };
      if (reply.delayMs && reply.delayMs > 0) {
        const timer = setTimeout(() => {
          timers.delete(timer);
          send();
        }, reply.delayMs);
        timers.add(timer);
      } else send();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    baseUrl: `http://127.0.0.1:${port}/v1`,
    requests,
    get maxInFlight() {
      return state.maxInFlight;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const timer of timers) clearTimeout(timer);
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A completions answer: one choice per text, with usage. */
export function completionBody(texts: string[], usage = { prompt_tokens: 5, completion_tokens: 3 }): unknown {
  return {
    object: "text_completion",
    choices: texts.map((text, index) => ({ index, text, finish_reason: "stop", logprobs: null })),
    usage,
  };
}

/** A port on 127.0.0.1 that nothing listens on (bound, then closed). */
export async function closedPortUrl(): Promise<string> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `http://127.0.0.1:${port}/v1`;
}
