// A fake Hugging Face hub on 127.0.0.1 for the hub tests (never the network): the API's file list, resolve with
// ETag / X-Linked-Etag / X-Linked-Size, LFS files (*.safetensors) redirected to a second "CDN" server (another
// origin, which must not see the token), Range requests (open and bounded), a transfer that breaks off half
// way, a corrupted file, a gated repository, and a CDN that ignores Range. Every body it sends is recorded with
// the number of bytes written before the connection closed.

import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import type { TensorToWrite } from "../../src/io/safetensors.js";
import { openCheckpoint, writeCheckpoint } from "../../src/io/safetensors-index.js";
import { sharedPath } from "./shared-paths.js";
import { makeTempDir } from "./temp-dir.js";

export interface Repo {
  commit: string;
  files: Map<string, Buffer>;
  gated?: boolean;
}

/** One response body: what was asked for and how much of it left the server. */
export interface Transfer {
  server: "hub" | "cdn";
  method: string;
  path: string;
  range: string | null;
  status: number;
  /** Body bytes handed to the socket before the response ended or the client went away. */
  bodyBytes: number;
  /** Bytes the response announced (Content-Length). */
  announced: number;
  /** Whether the whole announced body was written. */
  complete: boolean;
}

export const sha256 = (b: Buffer) => createHash("sha256").update(b).digest("hex");
export const gitSha1 = (b: Buffer) => createHash("sha1").update(`blob ${b.length}\0`).update(b).digest("hex");
export const isLfs = (file: string) => file.endsWith(".safetensors");
export const TOKEN = "hf_secretTestToken123";

/** Body chunks are written one at a time, waiting for the socket to drain, as a real server streams. */
const CHUNK = 64 * 1024;

export class FakeHub {
  readonly repos = new Map<string, Repo>();
  /** Every request: "<server> <method> <path> range=<range> auth=<yes|no>". */
  readonly log: string[] = [];
  /** Every response body, recorded when its connection is done with it. */
  readonly transfers: Transfer[] = [];
  /** sha256 of blobs whose next full GET breaks off after half the bytes. */
  readonly interruptNext = new Set<string>();
  /** sha256 of blobs served with one byte flipped. */
  readonly corrupt = new Set<string>();
  /** When true the CDN ignores Range headers and always sends the whole file with 200. */
  ignoreRange = false;
  hub!: Server;
  cdn!: Server;
  hubUrl = "";
  cdnUrl = "";
  private readonly digests = new Map<Buffer, string>();
  private open = 0;
  private idleWaiters: (() => void)[] = [];

  async start(): Promise<void> {
    this.hub = createServer((req, res) => this.handleHub(req, res));
    this.cdn = createServer((req, res) => this.handleCdn(req, res));
    for (const server of [this.hub, this.cdn])
      await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    this.hubUrl = `http://127.0.0.1:${(this.hub.address() as AddressInfo).port}`;
    this.cdnUrl = `http://127.0.0.1:${(this.cdn.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    for (const server of [this.hub, this.cdn]) {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    }
  }

  /** Resolves once every response so far has ended or lost its client (and is in `transfers`). */
  idle(): Promise<void> {
    if (this.open === 0) return Promise.resolve();
    return new Promise((r) => this.idleWaiters.push(r));
  }

  private digest(content: Buffer): string {
    let digest = this.digests.get(content);
    if (!digest) {
      digest = sha256(content);
      this.digests.set(content, digest);
    }
    return digest;
  }

  private record(server: string, req: IncomingMessage): void {
    this.log.push(
      `${server} ${req.method} ${req.url} range=${req.headers.range ?? "-"} auth=${req.headers.authorization === `Bearer ${TOKEN}` ? "yes" : req.headers.authorization ? "other" : "no"}`,
    );
  }

  private authorised(repo: Repo, req: IncomingMessage): boolean {
    return !repo.gated || req.headers.authorization === `Bearer ${TOKEN}`;
  }

  /** Writes `body` in chunks as the socket drains; records the transfer when done or abandoned. */
  private send(
    server: "hub" | "cdn",
    req: IncomingMessage,
    res: ServerResponse,
    status: number,
    headers: Record<string, string>,
    body: Buffer,
    breakAfter?: number,
  ): void {
    res.writeHead(status, { ...headers, "content-length": String(body.length) });
    if (req.method === "HEAD") return void res.end();
    const transfer: Transfer = {
      server,
      method: req.method ?? "",
      path: req.url ?? "",
      range: req.headers.range ?? null,
      status,
      bodyBytes: 0,
      announced: body.length,
      complete: false,
    };
    this.open++;
    let closed = false;
    res.on("close", () => {
      closed = true;
      this.transfers.push(transfer);
      if (--this.open === 0) for (const wake of this.idleWaiters.splice(0)) wake();
    });
    const limit = breakAfter ?? body.length;
    const pump = (): void => {
      while (!closed && transfer.bodyBytes < limit) {
        const chunk = body.subarray(transfer.bodyBytes, Math.min(limit, transfer.bodyBytes + CHUNK));
        transfer.bodyBytes += chunk.length;
        // A broken transfer: the connection drops once the last chunk before the break has been flushed.
        const breakNow = breakAfter !== undefined && transfer.bodyBytes >= limit;
        const drained = breakNow
          ? res.write(chunk, () => setTimeout(() => req.socket.destroy(), 20))
          : res.write(chunk);
        if (!drained) return void res.once("drain", pump);
      }
      if (closed || breakAfter !== undefined) return;
      transfer.complete = true;
      res.end();
    };
    pump();
  }

  private handleHub(req: IncomingMessage, res: ServerResponse): void {
    this.record("hub", req);
    const url = new URL(req.url ?? "/", this.hubUrl);
    const api = /^\/api\/models\/([^/]+\/[^/]+)\/revision\/([^/]+)$/.exec(url.pathname);
    if (api) {
      const repo = this.repos.get(api[1]);
      if (!repo) return void res.writeHead(404).end("{}");
      if (!this.authorised(repo, req)) return void res.writeHead(401).end("{}");
      const body = JSON.stringify({
        id: api[1],
        sha: repo.commit,
        siblings: [...repo.files.keys()].map((rfilename) => ({ rfilename })),
      });
      return void res.writeHead(200, { "content-type": "application/json" }).end(body);
    }
    const resolve = /^\/([^/]+\/[^/]+)\/resolve\/([^/]+)\/(.+)$/.exec(url.pathname);
    const repo = resolve ? this.repos.get(resolve[1]) : undefined;
    const file = resolve ? decodeURIComponent(resolve[3]) : "";
    const content = repo?.files.get(file);
    if (!repo || !content || (resolve && resolve[2] !== repo.commit && resolve[2] !== "main"))
      return void res.writeHead(404).end();
    if (!this.authorised(repo, req)) return void res.writeHead(401).end();
    if (isLfs(file)) {
      const digest = this.digest(content);
      res.writeHead(302, {
        location: `${this.cdnUrl}/blobs/${digest}`,
        "x-linked-etag": `"${digest}"`,
        "x-linked-size": String(content.length),
        "x-repo-commit": repo.commit,
        etag: `"${gitSha1(Buffer.from("pointer"))}"`,
      });
      return void res.end();
    }
    this.send("hub", req, res, 200, { etag: `"${gitSha1(content)}"`, "x-repo-commit": repo.commit }, content);
  }

  private blob(digest: string): Buffer | undefined {
    for (const repo of this.repos.values())
      for (const content of repo.files.values()) if (this.digest(content) === digest) return content;
    return undefined;
  }

  private handleCdn(req: IncomingMessage, res: ServerResponse): void {
    this.record("cdn", req);
    const digest = /^\/blobs\/([0-9a-f]{64})$/.exec(req.url ?? "")?.[1];
    const stored = digest ? this.blob(digest) : undefined;
    if (!digest || !stored) return void res.writeHead(404).end();
    let content = stored;
    if (this.corrupt.has(digest)) {
      content = Buffer.from(stored);
      content[content.length >> 1] ^= 0xff;
    }
    const range = this.ignoreRange ? null : /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? "");
    if (range) {
      const start = Number(range[1]);
      const end = range[2] === "" ? content.length - 1 : Math.min(Number(range[2]), content.length - 1);
      if (start >= content.length)
        return void res.writeHead(416, { "content-range": `bytes */${content.length}` }).end();
      const headers = { "content-range": `bytes ${start}-${end}/${content.length}` };
      this.send("cdn", req, res, 206, headers, content.subarray(start, end + 1));
      return;
    }
    const breakAfter = this.interruptNext.delete(digest) ? content.length >> 1 : undefined;
    this.send("cdn", req, res, 200, {}, content, breakAfter);
  }
}

/** A GPT-2 repository: golden weights in 3+ shards with an index, config, a BPE tokenizer, a README. */
export function gpt2RepoFiles(): Map<string, Buffer> {
  const dir = makeTempDir("hub-repo");
  const source = openCheckpoint(sharedPath("golden/models/gpt2"));
  const tensors: Record<string, TensorToWrite> = {};
  for (const name of source.names())
    tensors[name] = { shape: source.info(name).shape, data: source.readFloat32(name) };
  source.close();
  const { files, indexFile } = writeCheckpoint(dir, tensors, { maxShardBytes: 20_000 });
  const out = new Map<string, Buffer>();
  for (const file of [...files, ...(indexFile ? [indexFile] : [])])
    out.set(file, readFileSync(join(dir, file)));
  out.set("config.json", readFileSync(sharedPath("golden/models/gpt2/config.json")));
  out.set("vocab.json", readFileSync(sharedPath("models/tiny-gpt2-hf-random/vocab.json")));
  out.set("merges.txt", readFileSync(sharedPath("models/tiny-gpt2-hf-random/merges.txt")));
  out.set("README.md", Buffer.from("# not downloaded\n"));
  return out;
}
