// `adaptlm info` on a hub id reads only the safetensors headers of the weights (hub.ts snapshotHeaders),
// against the fake hub on 127.0.0.1: bounded Range requests, a CDN that ignores Range (the transfer is
// aborted after the header), the header cache (never a blob), offline use, and malformed headers.

import assert from "node:assert/strict";
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { AdaptlmError } from "../../src/errors.js";
import { snapshotHeaders } from "../../src/io/hub.js";
import { SafetensorsError } from "../../src/io/safetensors.js";
import { openCheckpoint } from "../../src/io/safetensors-index.js";
import { describeModel, type ModelDescription } from "../../src/models/load-model.js";
import { FakeHub, gpt2RepoFiles, sha256 } from "./fake-hub.js";
import { sharedPath } from "./shared-paths.js";
import { makeTempDir } from "./temp-dir.js";

const server = new FakeHub();
let repoFiles: Map<string, Buffer>;
let localFolder: string;
const shardNames = () => [...repoFiles.keys()].filter((f) => f.endsWith(".safetensors")).sort();
/** 8 + N: the bytes of a safetensors file up to the end of its JSON header. */
const headerEnd = (file: Buffer) => 8 + Number(file.readBigUInt64LE(0));

function safetensors(header: string, dataBytes: number): Buffer {
  const json = Buffer.from(header);
  const prefix = Buffer.alloc(8);
  prefix.writeBigUInt64LE(BigInt(json.length));
  return Buffer.concat([prefix, json, Buffer.alloc(dataBytes)]);
}

before(async () => {
  await server.start();
  repoFiles = gpt2RepoFiles();
  localFolder = makeTempDir("hub-headers-local");
  for (const [file, content] of repoFiles) writeFileSync(join(localFolder, file), content);
  server.repos.set("org/sharded", { commit: "a".repeat(40), files: repoFiles });
  const tiny = sharedPath("models/tiny-gpt2-hf-random");
  const single = readFileSync(join(tiny, "model.safetensors"));
  // 64 MiB after the real data: a server that ignored Range and was read to the end would send all of it.
  const padded = Buffer.concat([single, Buffer.alloc(64 * 1024 * 1024)]);
  const config = readFileSync(join(tiny, "config.json"));
  server.repos.set("org/padded", {
    commit: "b".repeat(40),
    files: new Map([
      ["config.json", config],
      ["model.safetensors", padded],
    ]),
  });
  const tensor = '"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}';
  server.repos.set("org/not-json", {
    commit: "c".repeat(40),
    files: new Map([
      ["config.json", config],
      ["model.safetensors", safetensors(`{${tensor}`, 8)],
    ]),
  });
  const claimsTooMuch = safetensors(`{${tensor}}`, 8);
  claimsTooMuch.writeBigUInt64LE(BigInt(claimsTooMuch.length));
  server.repos.set("org/truncated", {
    commit: "d".repeat(40),
    files: new Map([
      ["config.json", config],
      ["model.safetensors", claimsTooMuch],
    ]),
  });
  server.repos.set("org/bad-offsets", {
    commit: "e".repeat(40),
    files: new Map([
      ["config.json", config],
      ["model.safetensors", safetensors('{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,80]}}', 8)],
    ]),
  });
});
after(() => server.stop());

/** What must match between a hub description and the local one (paths differ by design). */
function summary(d: ModelDescription): unknown {
  const { source: _configSource, ...config } = d.config;
  return {
    config,
    kind: d.kind,
    format: d.source.format,
    parameters: d.parameters,
    storedDtypes: d.storedDtypes,
    storedBytes: d.storedBytes,
    float32Bytes: d.float32Bytes,
    kvCacheBytes: d.kvCacheBytes,
    tokenizer: d.tokenizer ? [d.tokenizer.kind, d.tokenizer.vocabSize] : null,
  };
}

describe("hub headers", () => {
  test("sharded: two bounded Range requests per shard, no weights downloaded, same description as the local folder", async () => {
    const cacheDir = makeTempDir("hub-headers");
    const env = { HF_ENDPOINT: server.hubUrl, HF_HUB_CACHE: cacheDir };
    const logStart = server.log.length;
    const transfersStart = server.transfers.length;
    const remote = await describeModel("org/sharded", { hub: { env } });
    await server.idle();
    const local = await describeModel(localFolder);
    assert.deepEqual(summary(remote), summary(local));
    assert.equal(remote.source.hubId, "org/sharded");
    assert.ok(remote.parameters > 0 && remote.tokenizer !== null);

    const shards = shardNames();
    assert.ok(shards.length >= 3, "the fixture is sharded");
    const cdn = server.transfers.slice(transfersStart).filter((t) => t.server === "cdn");
    for (const shard of shards) {
      const content = repoFiles.get(shard) as Buffer;
      const end = headerEnd(content);
      const mine = cdn.filter((t) => t.path === `/blobs/${sha256(content)}`);
      assert.deepEqual(
        mine.map((t) => [t.range, t.status, t.bodyBytes]),
        [
          ["bytes=0-7", 206, 8],
          [`bytes=8-${end - 1}`, 206, end - 8],
        ],
        shard,
      );
      assert.ok(end < content.length / 4, `${shard}: the header is a small part of the file`);
    }
    const cdnGets = server.log.slice(logStart).filter((l) => l.startsWith("cdn GET"));
    assert.equal(cdnGets.length, 2 * shards.length, cdnGets.join("\n"));

    // Config, tokenizer and index are cached as usual; no shard is a blob or in the snapshot, not even partly.
    const repoDir = join(cacheDir, "models--org--sharded");
    const snapshot = join(repoDir, "snapshots", "a".repeat(40));
    assert.deepEqual(readdirSync(snapshot).sort(), [
      "config.json",
      "merges.txt",
      "model.safetensors.index.json",
      "vocab.json",
    ]);
    const blobs = readdirSync(join(repoDir, "blobs"));
    assert.equal(blobs.length, 4);
    assert.ok(
      blobs.every((b) => /^[0-9a-f]{40}$/.test(b)),
      blobs.join(", "),
    );
    const cached = readdirSync(join(repoDir, ".adaptlm-safetensors-headers", "a".repeat(40))).sort();
    assert.deepEqual(
      cached,
      shards.map((s) => `${s}.json`),
    );

    // Again: headers come from the cache, the CDN sees nothing; offline works too, without any request.
    const cdnBefore = server.log.filter((l) => l.startsWith("cdn")).length;
    assert.deepEqual(summary(await describeModel("org/sharded", { hub: { env } })), summary(local));
    assert.equal(server.log.filter((l) => l.startsWith("cdn")).length, cdnBefore);
    const requestsBefore = server.log.length;
    const offline = await describeModel("org/sharded", { hub: { env: { ...env, HF_HUB_OFFLINE: "1" } } });
    assert.deepEqual(summary(offline), summary(local));
    assert.equal(server.log.length, requestsBefore, "offline sends nothing");
  });

  test("header-only sources answer info() and refuse reads with SAFETENSORS_NO_DATA", async () => {
    const cacheDir = makeTempDir("hub-headers-nodata");
    const { folder, headers } = await snapshotHeaders("org/sharded", {
      endpoint: server.hubUrl,
      cacheDir,
    });
    const weights = openCheckpoint(folder, { headers });
    const local = openCheckpoint(localFolder);
    assert.deepEqual(weights.names(), local.names());
    for (const name of local.names()) assert.deepEqual(weights.info(name), local.info(name));
    assert.throws(
      () => weights.readFloat32(local.names()[0] as string),
      (e: unknown) => e instanceof SafetensorsError && e.code === "SAFETENSORS_NO_DATA",
    );
    local.close();
    weights.close();
  });

  test("a CDN that ignores Range: read up to the header, then the transfer is aborted", async () => {
    const cacheDir = makeTempDir("hub-headers-norange");
    const padded = server.repos.get("org/padded")?.files.get("model.safetensors") as Buffer;
    const start = server.transfers.length;
    server.ignoreRange = true;
    let description: ModelDescription;
    try {
      description = await describeModel("org/padded", { hub: { endpoint: server.hubUrl, cacheDir } });
      await server.idle();
    } finally {
      server.ignoreRange = false;
    }
    const local = await describeModel(sharedPath("models/tiny-gpt2-hf-random"));
    assert.equal(description.parameters, local.parameters);
    assert.equal(description.storedBytes, local.storedBytes);
    const weights = server.transfers
      .slice(start)
      .filter((t) => t.server === "cdn" && t.path === `/blobs/${sha256(padded)}`);
    assert.equal(weights.length, 2);
    for (const t of weights) {
      assert.equal(t.status, 200);
      assert.ok(!t.complete, "the client went away before the body was sent");
      // What socket buffers absorbed before the abort, far below the 64 MiB the file has.
      assert.ok(t.bodyBytes < 16 * 1024 * 1024, `${t.bodyBytes} bytes sent of ${t.announced}`);
    }
    const blobs = join(cacheDir, "models--org--padded", "blobs");
    assert.ok(!readdirSync(blobs).includes(sha256(padded)));
    assert.ok(!readdirSync(blobs).some((b) => b.endsWith(".incomplete")));
  });

  test("malformed headers are typed SafetensorsErrors and nothing is cached", async () => {
    const cases: [string, string][] = [
      ["org/not-json", "SAFETENSORS_HEADER_NOT_JSON"],
      ["org/truncated", "SAFETENSORS_HEADER_TRUNCATED"],
      ["org/bad-offsets", "SAFETENSORS_BAD_OFFSETS"],
    ];
    for (const [repo, code] of cases) {
      const cacheDir = makeTempDir("hub-headers-bad");
      await assert.rejects(
        describeModel(repo, { hub: { endpoint: server.hubUrl, cacheDir } }),
        (e: unknown) => {
          assert.ok(e instanceof SafetensorsError, String(e));
          assert.equal(e.code, code);
          assert.match(e.message, new RegExp(`${repo}/model\\.safetensors`));
          return true;
        },
      );
      const repoDir = join(cacheDir, `models--${repo.replace("/", "--")}`);
      assert.ok(!existsSync(join(repoDir, ".adaptlm-safetensors-headers")), `${repo}: no header cached`);
    }
  });

  test("offline without a cached header names the missing file", async () => {
    const cacheDir = makeTempDir("hub-headers-offline");
    const repoDir = join(cacheDir, "models--org--sharded");
    // The config and index are cached (as a pull of an earlier revision would leave them) but no header.
    const snapshot = join(repoDir, "snapshots", "a".repeat(40));
    mkdirSync(snapshot, { recursive: true });
    mkdirSync(join(repoDir, "refs"), { recursive: true });
    writeFileSync(join(repoDir, "refs", "main"), "a".repeat(40));
    for (const file of ["config.json", "model.safetensors.index.json"])
      writeFileSync(join(snapshot, file), repoFiles.get(file) as Buffer);
    await assert.rejects(snapshotHeaders("org/sharded", { cacheDir, offline: true }), (e: unknown) => {
      assert.ok(e instanceof AdaptlmError && e.code === "HUB_OFFLINE_MISSING", String(e));
      assert.match(e.message, new RegExp(shardNames()[0] as string));
      return true;
    });
  });
});
