// `adaptlm info <hub id>` against the fake hub on 127.0.0.1: it prints the same summary as for the same folder
// on disk while fetching only the safetensors headers of the weights.

import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { FakeHub, gpt2RepoFiles, sha256 } from "../io/fake-hub.js";
import { makeTempDir } from "../io/temp-dir.js";
import { adaptlm } from "./run-cli.js";

const server = new FakeHub();
let repoFiles: Map<string, Buffer>;
let localFolder: string;

before(async () => {
  await server.start();
  repoFiles = gpt2RepoFiles();
  server.repos.set("org/sharded", { commit: "a".repeat(40), files: repoFiles });
  localFolder = makeTempDir("info-hub-local");
  for (const [file, content] of repoFiles) writeFileSync(join(localFolder, file), content);
});
after(() => server.stop());

/** The printed rows, less the two that name where the model came from. */
function rowsBesidesSource(stdout: string): string[] {
  return stdout.split("\n").filter((line) => line && !/^(model|format) /.test(line));
}

describe("adaptlm info <hub id>", () => {
  test("prints the local folder's summary; the weights are read no further than their headers", async () => {
    const env = { HF_ENDPOINT: server.hubUrl, HF_HUB_CACHE: makeTempDir("info-hub-cache") };
    const remote = await adaptlm(["info", "org/sharded"], { env });
    assert.equal(remote.code, 0, remote.stderr);
    await server.idle();
    const local = await adaptlm(["info", localFolder]);
    assert.equal(local.code, 0, local.stderr);
    const rows = rowsBesidesSource(remote.stdout);
    assert.equal(rows.length, 6, remote.stdout);
    assert.deepEqual(rows, rowsBesidesSource(local.stdout));
    assert.match(remote.stdout, /^model {9}org\/sharded$/m);

    const shards = [...repoFiles.keys()].filter((f) => f.endsWith(".safetensors"));
    for (const shard of shards) {
      const content = repoFiles.get(shard) as Buffer;
      const headerEnd = 8 + Number(content.readBigUInt64LE(0));
      const sent = server.transfers
        .filter((t) => t.path === `/blobs/${sha256(content)}`)
        .reduce((sum, t) => sum + t.bodyBytes, 0);
      assert.equal(sent, headerEnd, `${shard}: exactly its 8-byte length and JSON header were sent`);
      assert.match(remote.stderr, new RegExp(`${shard} \\(header\\)`));
    }

    const remoteJson = await adaptlm(["info", "org/sharded", "--json"], { env });
    const localJson = await adaptlm(["info", localFolder, "--json"]);
    const { model: _m, path: _p, ...remoteInfo } = JSON.parse(remoteJson.stdout) as Record<string, unknown>;
    const { model: _n, path: _q, ...localInfo } = JSON.parse(localJson.stdout) as Record<string, unknown>;
    assert.deepEqual(remoteInfo, localInfo);
  });
});
