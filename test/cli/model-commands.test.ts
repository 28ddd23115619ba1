// End to end: the model commands (generate, score, info, fill-mask, pull) run as a user runs them, by
// spawning the compiled CLI, on stories260K, the tiny HF GPT-2, a tiny random BERT MLM folder written here,
// and a fake hub on 127.0.0.1.

import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { copyFileSync, existsSync, readFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { makeTempDir } from "../io/temp-dir.js";
import { stories260K, tinyGpt2Folder, writeTinyBertFolder } from "../models/model-fixtures.js";
import { adaptlm } from "./run-cli.js";

const cli = fileURLToPath(new URL("../../src/cli/main.js", import.meta.url));

const storiesArgs = [stories260K.checkpoint, "--tokenizer", stories260K.tokenizer];

describe("adaptlm generate", () => {
  test("greedy from BOS streams exactly what llama2.c prints for stories260K (200 tokens)", async () => {
    const run = await adaptlm(["generate", ...storiesArgs, "--prompt", "", "--max-tokens", "200"]);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stdout, `${readFileSync(stories260K.expected, "utf8")}\n`);
  });

  test("--json: n seeded samples with per-token logprobs and alternatives; same seed, same output", async () => {
    const args = ["generate", ...storiesArgs, "--prompt", "Once upon a time", "--max-tokens", "12"];
    const sampled = [...args, "--n", "3", "--temperature", "1", "--seed", "5", "--logprobs", "2", "--json"];
    const [first, second] = [await adaptlm(sampled), await adaptlm(sampled)];
    assert.equal(first.code, 0, first.stderr);
    assert.equal(first.stdout, second.stdout, "seeded sampling is reproducible");
    const out = JSON.parse(first.stdout) as {
      promptTokens: number[];
      samples: {
        text: string;
        finishReason: string;
        tokens: {
          id: number;
          text: string;
          logprob: number;
          topLogprobs: { id: number; logprob: number }[];
        }[];
      }[];
    };
    assert.equal(out.promptTokens[0], 1, "BOS first");
    assert.equal(out.samples.length, 3);
    for (const sample of out.samples) {
      assert.ok(["length", "eos"].includes(sample.finishReason));
      assert.ok(sample.tokens.length >= 1 && sample.tokens.length <= 12);
      assert.equal(sample.tokens.map((t) => t.text).join(""), sample.text);
      for (const token of sample.tokens) {
        assert.ok(token.logprob <= 0);
        assert.equal(token.topLogprobs.length, 2);
        assert.ok(token.topLogprobs[0].logprob >= token.topLogprobs[1].logprob);
        assert.ok(token.logprob <= token.topLogprobs[0].logprob + 1e-12);
      }
    }
    assert.ok(new Set(out.samples.map((s) => s.text)).size > 1, "three samples at temperature 1 differ");
    // Greedy --json agrees with greedy streaming.
    const greedy = await adaptlm([...args, "--json"]);
    const streamed = await adaptlm(args);
    assert.equal(`${(JSON.parse(greedy.stdout) as typeof out).samples[0].text}\n`, streamed.stdout);
  });

  test("--stop cuts the text before the stop string", async () => {
    const args = ["generate", ...storiesArgs, "--prompt", "Once upon a time", "--max-tokens", "60"];
    const free = await adaptlm(args);
    const stopped = await adaptlm([...args, "--stop", "Lily", "--json"]);
    const sample = (JSON.parse(stopped.stdout) as { samples: { text: string; finishReason: string }[] })
      .samples[0];
    assert.ok(free.stdout.includes("Lily"), "the free text mentions Lily (else this test proves nothing)");
    assert.equal(sample.finishReason, "stop");
    assert.equal(sample.text, free.stdout.slice(0, free.stdout.indexOf("Lily")));
    // Streaming holds back a possible stop string's start and never prints the stop string.
    const streamed = await adaptlm([...args, "--stop", "Lily"]);
    assert.equal(streamed.stdout, `${sample.text}\n`);
  });

  test("usage errors and a llama2.c checkpoint without a tokenizer fail with a clear message", async () => {
    const noPrompt = await adaptlm(["generate", ...storiesArgs]);
    assert.equal(noPrompt.code, 1);
    assert.match(noPrompt.stderr, /--prompt/);
    const lonely = join(makeTempDir("cli-llama2c"), "model.bin");
    copyFileSync(stories260K.checkpoint, lonely);
    const noTokenizer = await adaptlm(["generate", lonely, "--prompt", "Hi"]);
    assert.equal(noTokenizer.code, 1);
    assert.match(noTokenizer.stderr, /--tokenizer/);
    assert.doesNotMatch(noTokenizer.stderr, /\n\s+at /, "no stack trace");
    const missing = await adaptlm(["generate", "/no/such/model", "--prompt", "Hi"]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /not found/);
  });
});

describe("adaptlm score and info", () => {
  test("score prints one line per continuation; the likely one is greedy", async () => {
    const run = await adaptlm([
      "score",
      ...storiesArgs,
      "--prompt",
      "Once upon a",
      "--continuation",
      " time",
      "--continuation",
      " dog",
    ]);
    assert.equal(run.code, 0, run.stderr);
    const lines = run.stdout.trim().split("\n");
    assert.equal(lines.length, 2);
    const pattern =
      /^logprob (-?\d+\.\d{4}) {2}tokens (\d+) {2}mean (-?\d+\.\d{4}) {2}greedy (yes|no) {2}(".*")$/;
    const [time, dog] = lines.map((line) => pattern.exec(line));
    assert.ok(time && dog, run.stdout);
    assert.equal(time[5], '" time"');
    assert.equal(time[4], "yes");
    assert.ok(Number(time[1]) > Number(dog[1]));
    const json = await adaptlm([
      "score",
      ...storiesArgs,
      "--prompt",
      "Once upon a",
      "--continuation",
      " time",
      "--json",
    ]);
    const parsed = JSON.parse(json.stdout) as { logprob: number; tokenLogprobs: number[] };
    assert.ok(Math.abs(parsed.logprob - parsed.tokenLogprobs.reduce((a, b) => a + b, 0)) < 1e-9);
    assert.equal(parsed.logprob.toFixed(4), time[1]);
  });

  test("info on the tiny HF GPT-2 (--json and text)", async () => {
    const run = await adaptlm(["info", tinyGpt2Folder, "--json"]);
    assert.equal(run.code, 0, run.stderr);
    const info = JSON.parse(run.stdout) as Record<string, unknown>;
    assert.equal(info.modelType, "gpt2");
    assert.equal(info.kind, "causal-lm");
    assert.equal(info.parameters, 2168);
    assert.deepEqual(info.storedDtypes, ["F32"]);
    assert.deepEqual(info.tokenizer, { kind: "byte-level-bpe", vocabSize: 21 });
    assert.equal(info.memoryBytes, 2168 * 4 + 2 * 1 * 1 * 2 * 1024 * 4);
    const text = await adaptlm(["info", ...storiesArgs]);
    assert.match(text.stdout, /^architecture +llama LlamaForCausalLM -> causal-lm$/m);
    assert.match(text.stdout, /^parameters +260\.0K \(260032\)/m);
    assert.match(text.stdout, /^tokenizer +sentencepiece-bpe, 512 tokens$/m);
  });
});

describe("adaptlm fill-mask", () => {
  test("top-k fillers of a tiny random BERT MLM: format, sorted, probabilities sum <= 1", async () => {
    const folder = writeTinyBertFolder({ extras: true });
    const run = await adaptlm(["fill-mask", folder, "The capital of France is [MASK].", "--top-k", "4"]);
    assert.equal(run.code, 0, run.stderr);
    const lines = run.stdout.trimEnd().split("\n");
    assert.match(lines[0], /^mask 1 of 1 \(token \d+\):$/);
    const candidates = lines.slice(1).map((line) => {
      const m = /^ +(\d+)\. (.+?) +(0\.\d{4}|1\.0000) {2}(.*)$/.exec(line);
      assert.ok(m, `line "${line}"`);
      return { rank: Number(m[1]), token: m[2], probability: Number(m[3]), sequence: m[4] };
    });
    assert.deepEqual(
      candidates.map((c) => c.rank),
      [1, 2, 3, 4],
    );
    for (let i = 1; i < candidates.length; i++)
      assert.ok(candidates[i - 1].probability >= candidates[i].probability);
    for (const c of candidates) assert.match(c.sequence, /^the capital of france is.+\.$/);
    const json = await adaptlm([
      "fill-mask",
      folder,
      "The capital of France is [MASK].",
      "--top-k",
      "4",
      "--json",
    ]);
    const prediction = JSON.parse(json.stdout) as {
      candidates: { probability: number; tokenText: string; sequence: string }[];
    };
    const probabilities = prediction.candidates.map((c) => c.probability);
    assert.ok(probabilities.reduce((a, b) => a + b, 0) <= 1 + 1e-9);
    for (let i = 1; i < probabilities.length; i++) assert.ok(probabilities[i - 1] >= probabilities[i]);
    assert.deepEqual(
      prediction.candidates.map((c) => c.tokenText),
      candidates.map((c) => c.token),
    );
    const noMask = await adaptlm(["fill-mask", folder, "No blank here."]);
    assert.equal(noMask.code, 1);
    assert.match(noMask.stderr, /\[MASK\]/);
    const notMlm = await adaptlm(["fill-mask", ...storiesArgs, "a [MASK]"]);
    assert.equal(notMlm.code, 1);
    assert.match(notMlm.stderr, /masked-lm|cannot be loaded as masked-lm/);
  });
});

describe("adaptlm pull", () => {
  let server: Server;
  let endpoint = "";
  const files = new Map<string, Buffer>([
    ["config.json", readFileSync(join(tinyGpt2Folder, "config.json"))],
    ["model.safetensors", readFileSync(join(tinyGpt2Folder, "model.safetensors"))],
    ["vocab.json", readFileSync(join(tinyGpt2Folder, "vocab.json"))],
    ["merges.txt", readFileSync(join(tinyGpt2Folder, "merges.txt"))],
  ]);
  const commit = "d".repeat(40);
  before(async () => {
    server = createServer((req, res) => {
      const url = req.url ?? "";
      if (url === "/api/models/org/tiny/revision/main") {
        res.writeHead(200, { "content-type": "application/json" });
        res.end(
          JSON.stringify({ sha: commit, siblings: [...files.keys()].map((rfilename) => ({ rfilename })) }),
        );
        return;
      }
      const file = new RegExp(`^/org/tiny/resolve/${commit}/(.+)$`).exec(url)?.[1];
      const content = file ? files.get(file) : undefined;
      if (!content) return void res.writeHead(404).end();
      res.writeHead(200, {
        "content-length": String(content.length),
        etag: `"${createHash("sha256").update(content).digest("hex")}"`,
      });
      res.end(req.method === "HEAD" ? undefined : content);
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => new Promise<void>((r) => server.close(() => r())));

  test("pull downloads into HF_HUB_CACHE and prints the snapshot; the hub id then works offline", async () => {
    const cache = makeTempDir("cli-hub");
    const env = { HF_ENDPOINT: endpoint, HF_HUB_CACHE: cache };
    const run = await adaptlm(["pull", "org/tiny"], { env });
    assert.equal(run.code, 0, run.stderr);
    const snapshot = run.stdout.trim();
    assert.equal(snapshot, join(cache, "models--org--tiny", "snapshots", commit));
    for (const file of files.keys()) assert.ok(existsSync(join(snapshot, file)), file);
    assert.match(run.stderr, /downloaded model\.safetensors/);
    const offline = await adaptlm(["info", "org/tiny", "--json"], { env: { ...env, HF_HUB_OFFLINE: "1" } });
    assert.equal(offline.code, 0, offline.stderr);
    assert.equal((JSON.parse(offline.stdout) as { parameters: number }).parameters, 2168);
    const missing = await adaptlm(["info", "org/other"], { env: { ...env, HF_HUB_OFFLINE: "1" } });
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /org\/other/);
    assert.match(missing.stderr, /config\.json/);
  });
});

describe("adaptlm serve", () => {
  test("starts on 127.0.0.1, answers /v1/models and a completion, stops on SIGTERM", async () => {
    const { spawn } = await import("node:child_process");
    const child = spawn(
      process.execPath,
      [cli, "serve", ...storiesArgs, "--port", "0", "--name", "stories"],
      {
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    try {
      const url = await new Promise<string>((resolve, reject) => {
        let out = "";
        child.stdout.on("data", (chunk: Buffer) => {
          out += chunk.toString();
          const m = /serving stories at (http:\/\/127\.0\.0\.1:\d+\/v1)/.exec(out);
          if (m) resolve(m[1]);
        });
        child.on("exit", (code) => reject(new Error(`serve exited with ${code}`)));
      });
      const models = (await (await fetch(`${url}/models`)).json()) as { data: { id: string }[] };
      assert.equal(models.data[0].id, "stories");
      const completion = (await (
        await fetch(`${url}/completions`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ model: "stories", prompt: "", max_tokens: 200, temperature: 0 }),
        })
      ).json()) as { choices: { text: string }[] };
      assert.equal(completion.choices[0].text, readFileSync(stories260K.expected, "utf8"));
    } finally {
      const exited = new Promise((resolve) => child.once("exit", resolve));
      child.kill("SIGTERM");
      await exited;
    }
  });
});
