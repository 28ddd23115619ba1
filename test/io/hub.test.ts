// The hub client against a local fake hub on 127.0.0.1 (never the network): the API's file list, resolve with
// ETag / X-Linked-Etag / X-Linked-Size, LFS files redirected to a second "CDN" server (another origin, which
// must not see the token), Range requests, a transfer that breaks off half way, a corrupted file, a gated
// repository, and offline mode.

import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import {
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  writeFileSync,
} from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { AdaptlmError } from "../../src/errors.js";
import {
  HubError,
  hubCacheDir,
  hubDownloadFile,
  isHubId,
  repoFolderName,
  snapshotDownload,
} from "../../src/io/hub.js";
import type { TensorToWrite } from "../../src/io/safetensors.js";
import { openCheckpoint, writeCheckpoint } from "../../src/io/safetensors-index.js";
import { loadModel } from "../../src/models/load-model.js";
import { sharedPath } from "./shared-paths.js";
import { makeTempDir } from "./temp-dir.js";

interface Repo {
  commit: string;
  files: Map<string, Buffer>;
  gated?: boolean;
}

const sha256 = (b: Buffer) => createHash("sha256").update(b).digest("hex");
const gitSha1 = (b: Buffer) => createHash("sha1").update(`blob ${b.length}\0`).update(b).digest("hex");
const isLfs = (file: string) => file.endsWith(".safetensors");
const TOKEN = "hf_secretTestToken123";

class FakeHub {
  readonly repos = new Map<string, Repo>();
  /** Every request: "<server> <method> <path> range=<range> auth=<yes|no>". */
  readonly log: string[] = [];
  /** sha256 of blobs whose next full GET breaks off after half the bytes. */
  readonly interruptNext = new Set<string>();
  /** sha256 of blobs served with one byte flipped. */
  readonly corrupt = new Set<string>();
  hub!: Server;
  cdn!: Server;
  hubUrl = "";
  cdnUrl = "";

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

  private record(server: string, req: IncomingMessage): void {
    this.log.push(
      `${server} ${req.method} ${req.url} range=${req.headers.range ?? "-"} auth=${req.headers.authorization === `Bearer ${TOKEN}` ? "yes" : req.headers.authorization ? "other" : "no"}`,
    );
  }

  private authorised(repo: Repo, req: IncomingMessage): boolean {
    return !repo.gated || req.headers.authorization === `Bearer ${TOKEN}`;
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
      const digest = sha256(content);
      res.writeHead(302, {
        location: `${this.cdnUrl}/blobs/${digest}`,
        "x-linked-etag": `"${digest}"`,
        "x-linked-size": String(content.length),
        "x-repo-commit": repo.commit,
        etag: `"${gitSha1(Buffer.from("pointer"))}"`,
      });
      return void res.end();
    }
    res.writeHead(200, {
      etag: `"${gitSha1(content)}"`,
      "content-length": String(content.length),
      "x-repo-commit": repo.commit,
    });
    if (req.method === "HEAD") return void res.end();
    res.end(content);
  }

  private blob(digest: string): Buffer | undefined {
    for (const repo of this.repos.values())
      for (const content of repo.files.values()) if (sha256(content) === digest) return content;
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
    const range = /^bytes=(\d+)-$/.exec(req.headers.range ?? "");
    if (range) {
      const start = Number(range[1]);
      if (start >= content.length)
        return void res.writeHead(416, { "content-range": `bytes */${content.length}` }).end();
      res.writeHead(206, {
        "content-range": `bytes ${start}-${content.length - 1}/${content.length}`,
        "content-length": String(content.length - start),
      });
      return void res.end(content.subarray(start));
    }
    res.writeHead(200, { "content-length": String(content.length) });
    if (this.interruptNext.delete(digest)) {
      res.write(content.subarray(0, content.length >> 1), () => {
        setTimeout(() => req.socket.destroy(), 20);
      });
      return;
    }
    res.end(content);
  }
}

/** A GPT-2 repository: golden weights in 3+ shards with an index, config, a BPE tokenizer, a README. */
function gpt2RepoFiles(): Map<string, Buffer> {
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

const server = new FakeHub();
let repoFiles: Map<string, Buffer>;

before(async () => {
  await server.start();
  repoFiles = gpt2RepoFiles();
  server.repos.set("org/tiny-gpt2", { commit: "a".repeat(40), files: repoFiles });
  server.repos.set("org/gated", { commit: "b".repeat(40), files: new Map(repoFiles), gated: true });
  server.repos.set("org/single", {
    commit: "c".repeat(40),
    files: new Map([
      ["config.json", readFileSync(sharedPath("models/tiny-gpt2-hf-random/config.json"))],
      ["model.safetensors", readFileSync(sharedPath("models/tiny-gpt2-hf-random/model.safetensors"))],
      ["vocab.json", readFileSync(sharedPath("models/tiny-gpt2-hf-random/vocab.json"))],
      ["merges.txt", readFileSync(sharedPath("models/tiny-gpt2-hf-random/merges.txt"))],
    ]),
  });
});
after(() => server.stop());

describe("hub", () => {
  test("hub ids and the cache root from the environment", () => {
    assert.ok(isHubId("org/name") && isHubId("TinyLlama/TinyLlama-1.1B-Chat-v1.0"));
    assert.ok(!isHubId("name") && !isHubId("a/b/c") && !isHubId("../x") && !isHubId("/abs/path"));
    assert.equal(repoFolderName("org/tiny-gpt2"), "models--org--tiny-gpt2");
    assert.equal(hubCacheDir({ env: { HF_HUB_CACHE: "/c", HF_HOME: "/h" } }), "/c");
    assert.equal(hubCacheDir({ env: { HF_HOME: "/h" } }), join("/h", "hub"));
  });

  test("snapshot download: every shard of the index, config and tokenizer, in the HF cache layout; loadModel by hub id", async () => {
    const cacheDir = makeTempDir("hub-cache");
    const env = { HF_ENDPOINT: server.hubUrl, HF_HUB_CACHE: cacheDir };
    const progress: string[] = [];
    const snapshot = await snapshotDownload("org/tiny-gpt2", {
      env,
      onProgress: (p) => p.done && progress.push(p.file),
    });
    const repoDir = join(cacheDir, "models--org--tiny-gpt2");
    assert.equal(snapshot, join(repoDir, "snapshots", "a".repeat(40)));
    assert.equal(readFileSync(join(repoDir, "refs", "main"), "utf8"), "a".repeat(40));
    const expected = [...repoFiles.keys()].filter((f) => f !== "README.md").sort();
    assert.ok(expected.filter((f) => /^model-\d{5}-of-\d{5}/.test(f)).length >= 3, "the fixture is sharded");
    assert.deepEqual(readdirSync(snapshot).sort(), expected);
    assert.deepEqual([...progress].sort(), expected);
    for (const file of expected) {
      assert.ok(lstatSync(join(snapshot, file)).isSymbolicLink());
      assert.match(readlinkSync(join(snapshot, file)), /^\.\.\/\.\.\/blobs\/[0-9a-f]{40,64}$/);
      assert.deepEqual(readFileSync(join(snapshot, file)), repoFiles.get(file));
    }
    // LFS blobs are named by their sha256, regular files by their git blob sha1.
    const blobs = readdirSync(join(repoDir, "blobs")).sort();
    const names = expected
      .map((f) => (isLfs(f) ? sha256(repoFiles.get(f) as Buffer) : gitSha1(repoFiles.get(f) as Buffer)))
      .sort();
    assert.deepEqual(blobs, names);
    // A second call finds everything cached: no GET of any file.
    const before = server.log.length;
    await snapshotDownload("org/tiny-gpt2", { env });
    assert.ok(
      server.log.slice(before).every((l) => !/ GET \/(blobs|org\/tiny-gpt2\/resolve)/.test(l)),
      server.log.slice(before).join("\n"),
    );
    // loadModel with a hub id uses the same cache.
    const loaded = await loadModel("org/tiny-gpt2", { hub: { env } });
    assert.equal(loaded.kind, "causal-lm");
    assert.equal(loaded.source.hubId, "org/tiny-gpt2");
    assert.ok(loaded.tokenizer);
  });

  test("an interrupted transfer resumes with a Range request and the result checks out", async () => {
    const cacheDir = makeTempDir("hub-resume");
    const content = server.repos.get("org/single")?.files.get("model.safetensors") as Buffer;
    const digest = sha256(content);
    server.interruptNext.add(digest);
    const before = server.log.length;
    const path = await hubDownloadFile("org/single", "model.safetensors", {
      endpoint: server.hubUrl,
      cacheDir,
    });
    assert.deepEqual(readFileSync(path), content);
    const cdnGets = server.log.slice(before).filter((l) => l.startsWith("cdn GET"));
    assert.equal(cdnGets.length, 2, cdnGets.join("\n"));
    assert.match(cdnGets[0], /range=- /);
    assert.match(cdnGets[1], new RegExp(`range=bytes=${content.length >> 1}- `));
    assert.ok(!existsSync(join(cacheDir, "models--org--single", "blobs", `${digest}.incomplete`)));
  });

  test("a partial file left by an earlier run is resumed from its size", async () => {
    const cacheDir = makeTempDir("hub-partial");
    const content = server.repos.get("org/single")?.files.get("model.safetensors") as Buffer;
    const blobs = join(cacheDir, "models--org--single", "blobs");
    mkdirSync(blobs, { recursive: true });
    writeFileSync(join(blobs, `${sha256(content)}.incomplete`), content.subarray(0, 1000));
    const before = server.log.length;
    const path = await hubDownloadFile("org/single", "model.safetensors", {
      endpoint: server.hubUrl,
      cacheDir,
    });
    assert.deepEqual(readFileSync(path), content);
    const cdnGets = server.log.slice(before).filter((l) => l.startsWith("cdn GET"));
    assert.equal(cdnGets.length, 1);
    assert.match(cdnGets[0], /range=bytes=1000- /);
  });

  test("a corrupted download fails the sha256 check and leaves nothing behind", async () => {
    const cacheDir = makeTempDir("hub-corrupt");
    const content = server.repos.get("org/single")?.files.get("model.safetensors") as Buffer;
    server.corrupt.add(sha256(content));
    try {
      await assert.rejects(
        hubDownloadFile("org/single", "model.safetensors", { endpoint: server.hubUrl, cacheDir }),
        (e: unknown) => e instanceof HubError && e.code === "HUB_INTEGRITY" && /sha256/.test(e.message),
      );
    } finally {
      server.corrupt.clear();
    }
    const blobs = join(cacheDir, "models--org--single", "blobs");
    assert.deepEqual(existsSync(blobs) ? readdirSync(blobs) : [], []);
  });

  test("gated: refused without HF_TOKEN (the message says to set it); with it, the token goes to the hub only", async () => {
    const cacheDir = makeTempDir("hub-gated");
    await assert.rejects(
      snapshotDownload("org/gated", { env: { HF_ENDPOINT: server.hubUrl, HF_HUB_CACHE: cacheDir } }),
      (e: unknown) => {
        assert.ok(e instanceof HubError);
        assert.equal(e.code, "HUB_UNAUTHORIZED");
        assert.match(e.message, /HF_TOKEN/);
        return true;
      },
    );
    const wrongToken = "hf_wrongTokenValue987";
    await assert.rejects(
      snapshotDownload("org/gated", {
        env: { HF_ENDPOINT: server.hubUrl, HF_HUB_CACHE: cacheDir, HF_TOKEN: wrongToken },
      }),
      (e: unknown) => {
        assert.ok(e instanceof HubError && e.code === "HUB_UNAUTHORIZED");
        assert.ok(
          !e.message.includes(wrongToken) && !(e.stack ?? "").includes(wrongToken),
          "the token is never in messages",
        );
        assert.match(e.message, /no access/);
        return true;
      },
    );
    const before = server.log.length;
    const errors: string[] = [];
    const snapshot = await snapshotDownload("org/gated", {
      env: { HF_ENDPOINT: server.hubUrl, HF_HUB_CACHE: cacheDir, HF_TOKEN: TOKEN },
      onProgress: (p) => errors.push(JSON.stringify(p)),
    });
    assert.ok(existsSync(join(snapshot, "config.json")));
    const requests = server.log.slice(before);
    assert.ok(requests.filter((l) => l.startsWith("hub")).every((l) => l.endsWith("auth=yes")));
    const cdn = requests.filter((l) => l.startsWith("cdn"));
    assert.ok(
      cdn.length > 0 && cdn.every((l) => l.endsWith("auth=no")),
      "the token never leaves the hub's origin",
    );
    assert.ok(errors.every((line) => !line.includes(TOKEN)));
  });

  test("offline: the cached snapshot without any request; a missing file is named", async () => {
    const cacheDir = makeTempDir("hub-offline");
    await snapshotDownload("org/single", { endpoint: server.hubUrl, cacheDir });
    const before = server.log.length;
    const env = { HF_HUB_OFFLINE: "1", HF_HUB_CACHE: cacheDir, HF_ENDPOINT: server.hubUrl };
    const snapshot = await snapshotDownload("org/single", { env });
    assert.ok(existsSync(join(snapshot, "model.safetensors")));
    assert.equal(server.log.length, before, "offline sends nothing");
    await assert.rejects(hubDownloadFile("org/single", "tokenizer.json", { env }), (e: unknown) => {
      assert.ok(e instanceof AdaptlmError && e.code === "HUB_OFFLINE_MISSING");
      assert.match(e.message, /tokenizer\.json/);
      assert.match(e.message, /HF_HUB_OFFLINE/);
      return true;
    });
    await assert.rejects(snapshotDownload("org/never-pulled", { env }), (e: unknown) => {
      assert.ok(e instanceof AdaptlmError && e.code === "HUB_OFFLINE_MISSING");
      assert.match(e.message, /org\/never-pulled/);
      assert.match(e.message, /config\.json/);
      return true;
    });
  });

  test("unknown repositories and files are HUB_NOT_FOUND", async () => {
    const cacheDir = makeTempDir("hub-404");
    await assert.rejects(
      snapshotDownload("org/missing", { endpoint: server.hubUrl, cacheDir }),
      (e: unknown) => e instanceof HubError && e.code === "HUB_NOT_FOUND",
    );
    await assert.rejects(
      hubDownloadFile("org/single", "nope.json", { endpoint: server.hubUrl, cacheDir }),
      (e: unknown) => e instanceof HubError && e.code === "HUB_NOT_FOUND",
    );
  });
});
