// `adaptlm serve` end to end with a chat template: the compiled CLI serving a temp copy of tiny-gpt2-hf-random
// whose tokenizer_config.json has a chat_template; a /v1/chat/completions request answers what the local
// engine answers for the same messages. A model without a template refuses chat with a clear 400.

import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { copyFileSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { LocalLanguageModel } from "../../src/lm/local-engine.js";
import { loadModel } from "../../src/models/load-model.js";
import { startOpenAIServer } from "../../src/serve/openai-server.js";
import { sharedPath } from "../io/shared-paths.js";
import { makeTempDir } from "../io/temp-dir.js";

const cli = fileURLToPath(new URL("../../src/cli/main.js", import.meta.url));
const tinyGpt2 = sharedPath("models/tiny-gpt2-hf-random");
const CHATML =
  "{% for message in messages %}{{ '<|endoftext|>' + message['role'] + ' ' + message['content'] + eos_token }}{% endfor %}" +
  "{% if add_generation_prompt %}{{ '<|endoftext|>assistant ' }}{% endif %}";

function copyTiny(template: string | undefined): string {
  const dir = makeTempDir("chat-serve");
  for (const file of readdirSync(tinyGpt2)) copyFileSync(join(tinyGpt2, file), join(dir, file));
  if (template !== undefined) {
    const config = JSON.parse(readFileSync(join(dir, "tokenizer_config.json"), "utf8")) as Record<
      string,
      unknown
    >;
    config.chat_template = template;
    writeFileSync(join(dir, "tokenizer_config.json"), JSON.stringify(config));
  }
  return dir;
}

/** Starts `adaptlm serve` and resolves with its base URL once it prints "serving ... at URL". */
function startCli(args: string[]): Promise<{ child: ChildProcess; url: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [cli, "serve", ...args], { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout?.on("data", (chunk: Buffer) => {
      stdout += chunk.toString();
      const match = /serving .* at (http:\/\/\S+)/.exec(stdout);
      if (match) resolve({ child, url: match[1] });
    });
    child.stderr?.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    child.on("exit", (code) => reject(new Error(`adaptlm serve exited with ${code}: ${stderr}`)));
  });
}

const children: ChildProcess[] = [];
after(() => {
  for (const child of children) child.kill("SIGTERM");
});

describe("adaptlm serve with a chat template", () => {
  test("a chat request is rendered with the model's template: the same reply as the local engine", async () => {
    const folder = copyTiny(CHATML);
    const { child, url } = await startCli([folder, "--port", "0", "--name", "tiny"]);
    children.push(child);
    const messages = [
      { role: "system", content: "lowest" },
      { role: "user", content: "newer wider" },
    ];
    const response = await fetch(`${url}/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ model: "tiny", messages, max_tokens: 8, temperature: 0, logprobs: true }),
    });
    assert.equal(response.status, 200);
    const body = (await response.json()) as {
      choices: { message: { role: string; content: string }; logprobs: { content: { logprob: number }[] } }[];
      usage: { prompt_tokens: number; completion_tokens: number };
    };
    const local = new LocalLanguageModel(folder);
    const expected = await local.generate({
      prompt: messages.map((m) => ({ role: m.role as "system" | "user", content: m.content })),
      maxTokens: 8,
      logprobs: 0,
    });
    assert.equal(body.choices[0].message.role, "assistant");
    assert.equal(body.choices[0].message.content, expected.choices[0].text);
    assert.equal(body.usage.prompt_tokens, expected.usage.promptTokens);
    const loaded = await local.load();
    // the rendered transcript, encoded without extra special tokens
    const rendered =
      "<|endoftext|>system lowest<|endoftext|><|endoftext|>user newer wider<|endoftext|><|endoftext|>assistant ";
    assert.equal(body.usage.prompt_tokens, loaded.tokenizer?.encode(rendered).ids.length);
    for (const [i, token] of body.choices[0].logprobs.content.entries())
      assert.ok(Math.abs(token.logprob - (expected.choices[0].logprobs?.[i].logprob ?? Number.NaN)) < 1e-5);
  });

  test("no template: chat answers 400 saying how to fix it; --plain-chat (plainChat) opts into the transcript", async () => {
    const loaded = await loadModel(copyTiny(undefined));
    const refusing = await startOpenAIServer(loaded, { modelName: "tiny", port: 0 });
    const plain = await startOpenAIServer(loaded, { modelName: "tiny", port: 0, plainChat: true });
    try {
      const request = {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ messages: [{ role: "user", content: "lower" }], max_tokens: 3 }),
      };
      const refused = await fetch(`${refusing.url}/chat/completions`, request);
      assert.equal(refused.status, 400);
      const error = ((await refused.json()) as { error: { message: string; code: string } }).error;
      assert.equal(error.code, "chat_template_missing");
      assert.match(error.message, /has no chat template.*--chat-template FILE or --plain-chat/);
      const answered = await fetch(`${plain.url}/chat/completions`, request);
      assert.equal(answered.status, 200);
    } finally {
      await refusing.close();
      await plain.close();
    }
  });
});

describe("chat request extensions (as vLLM)", () => {
  test("add_generation_prompt and chat_template_kwargs reach the template", async () => {
    const loaded = await loadModel(copyTiny(undefined));
    const server = await startOpenAIServer(loaded, {
      modelName: "tiny",
      port: 0,
      chatTemplates: {
        default:
          "{% for m in messages %}{{ m['content'] }}{% endfor %}{% if add_generation_prompt %} lo{% endif %}{% if wide %} wider{% endif %}",
      },
    });
    try {
      const promptTokens = async (extra: Record<string, unknown>): Promise<number> => {
        const response = await fetch(`${server.url}/chat/completions`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ messages: [{ role: "user", content: "lowest" }], max_tokens: 1, ...extra }),
        });
        assert.equal(response.status, 200, await response.clone().text());
        return ((await response.json()) as { usage: { prompt_tokens: number } }).usage.prompt_tokens;
      };
      const count = (text: string): number => loaded.tokenizer?.encode(text).ids.length ?? -1;
      assert.equal(await promptTokens({}), count("lowest lo"));
      assert.equal(await promptTokens({ add_generation_prompt: false }), count("lowest"));
      assert.equal(await promptTokens({ chat_template_kwargs: { wide: true } }), count("lowest lo wider"));
      assert.ok(count("lowest lo wider") > count("lowest lo"));
      const bad = await fetch(`${server.url}/chat/completions`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ messages: [{ role: "user", content: "x" }], chat_template_kwargs: [1] }),
      });
      assert.equal(bad.status, 400);
    } finally {
      await server.close();
    }
  });
});
