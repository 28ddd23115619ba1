// The hub client against a local fake hub on 127.0.0.1 (never the network): the API's file list, resolve with
// ETag / X-Linked-Etag / X-Linked-Size, LFS files redirected to a second "CDN" server (another origin, which
// must not see the token), Range requests, a transfer that breaks off half way, a corrupted file, a gated
// repository, and offline mode.

import assert from "node:assert/strict";
import {
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  writeFileSync,
} from "node:fs";
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
import { loadModel } from "../../src/models/load-model.js";
import { FakeHub, gitSha1, gpt2RepoFiles, isLfs, sha256, TOKEN } from "./fake-hub.js";
import { sharedPath } from "./shared-paths.js";
import { makeTempDir } from "./temp-dir.js";

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
