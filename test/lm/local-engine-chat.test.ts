// The local engine's chat: messages rendered with the model folder's chat template and encoded without the
// tokenizer's own special tokens (no doubled BOS); a model without a template refuses chat unless the caller
// opted into the plain transcript; a template given in the options.

import assert from "node:assert/strict";
import { copyFileSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import { LmCapabilityError } from "../../src/lm/language-model.js";
import { LocalLanguageModel } from "../../src/lm/local-engine.js";
import { loadModel } from "../../src/models/load-model.js";
import { sharedPath } from "../io/shared-paths.js";
import { makeTempDir } from "../io/temp-dir.js";
import { stories260K } from "../models/model-fixtures.js";

const tinyGpt2 = sharedPath("models/tiny-gpt2-hf-random");

/** A temp copy of tiny-gpt2-hf-random whose tokenizer adds BOS and whose tokenizer_config has `template`. */
function tinyChatModel(template: string | undefined, extra: Record<string, unknown> = {}): string {
  const dir = makeTempDir("local-chat");
  for (const file of readdirSync(tinyGpt2)) copyFileSync(join(tinyGpt2, file), join(dir, file));
  const config = JSON.parse(readFileSync(join(dir, "tokenizer_config.json"), "utf8")) as Record<
    string,
    unknown
  >;
  Object.assign(config, extra);
  config.add_bos_token = true;
  if (template !== undefined) config.chat_template = template;
  writeFileSync(join(dir, "tokenizer_config.json"), JSON.stringify(config));
  return dir;
}

describe("LocalLanguageModel chat", () => {
  test("the folder's template renders the messages; its BOS is not doubled by the tokenizer", async () => {
    const folder = tinyChatModel("{{ bos_token }}{% for m in messages %}{{ m['content'] }}{% endfor %}");
    const lm = new LocalLanguageModel(folder, { name: "tiny" });
    assert.equal(lm.capabilities.chat, true, "known before loading");
    const chat = await lm.generate({
      prompt: [
        { role: "system", content: " lowest" },
        { role: "user", content: " newer" },
      ],
      maxTokens: 6,
      logprobs: 0,
    });
    // the same ids as the plain prompt, to which the tokenizer adds the one BOS itself
    const plain = await lm.generate({ prompt: " lowest newer", maxTokens: 6, logprobs: 0 });
    const loaded = await lm.load();
    const withBos = loaded.tokenizer?.encode("<|endoftext|> lowest newer").ids ?? [];
    assert.equal(withBos[0], 20);
    assert.equal(withBos[1], 20, "the tokenizer alone would double the template's BOS");
    assert.equal(chat.usage.promptTokens, withBos.length - 1);
    assert.equal(chat.usage.promptTokens, plain.usage.promptTokens);
    assert.equal(chat.choices[0].text, plain.choices[0].text);
    assert.deepEqual(
      chat.choices[0].logprobs?.map((t) => t.logprob),
      plain.choices[0].logprobs?.map((t) => t.logprob),
    );
  });

  test("no template: chat is refused with the reason, or rendered as the opted-in plain transcript", async () => {
    const loaded = await loadModel(stories260K.checkpoint, { tokenizer: stories260K.tokenizer });
    const refusing = new LocalLanguageModel(loaded, { name: "stories" });
    assert.equal(refusing.capabilities.chat, false);
    await assert.rejects(
      refusing.generate({ prompt: [{ role: "user", content: "hi" }] }),
      (error: unknown) => error instanceof LmCapabilityError && /has no chat template/.test(error.message),
    );
    const plain = new LocalLanguageModel(loaded, { name: "stories", plainChat: true });
    assert.equal(plain.capabilities.chat, true);
    const messages = [{ role: "user" as const, content: "Tell me a story." }];
    const chat = await plain.generate({ prompt: messages, maxTokens: 12 });
    const direct = await plain.generate({
      prompt: "user: Tell me a story.\nassistant:",
      maxTokens: 12,
      stop: ["\nuser:"],
    });
    assert.equal(chat.choices[0].text, direct.choices[0].text.replace(/^ /, ""));
    assert.equal(chat.usage.promptTokens, direct.usage.promptTokens);
  });

  test("the tokenizer's eos_token ends a chat reply even where config.json names another EOS", async () => {
    const template = "{% for m in messages %}{{ m['content'] }}{% endfor %}";
    const messages = [{ role: "user" as const, content: " lowest newer" }];
    const first = await new LocalLanguageModel(tinyChatModel(template)).generate({
      prompt: messages,
      maxTokens: 6,
      logprobs: 0,
    });
    assert.ok(first.usage.completionTokens > 1, "the reference reply runs past its first token");
    // make the first reply token the tokenizer's eos_token (config.json keeps eos_token_id 20)
    const reference = await loadModel(tinyGpt2);
    const firstToken = reference.tokenizer?.encode(first.choices[0].logprobs?.[0].token ?? "").ids ?? [];
    assert.equal(firstToken.length, 1);
    const endOfTurn = reference.tokenizer?.idToToken(firstToken[0]);
    assert.ok(endOfTurn !== undefined && firstToken[0] !== 20);
    const ended = await new LocalLanguageModel(tinyChatModel(template, { eos_token: endOfTurn })).generate({
      prompt: messages,
      maxTokens: 6,
    });
    assert.equal(ended.usage.completionTokens, 1);
    assert.equal(ended.choices[0].finishReason, "stop");
    // plain prompts are not chat: the model's own EOS only
    const plain = await new LocalLanguageModel(tinyChatModel(template, { eos_token: endOfTurn })).generate({
      prompt: " lowest newer",
      maxTokens: 6,
    });
    assert.ok(plain.usage.completionTokens > 1);
  });

  test("a template given in the options overrides the folder's", async () => {
    const folder = tinyChatModel("{{ bos_token }}never used");
    const dir = makeTempDir("local-chat-override");
    const templateFile = join(dir, "chat.jinja");
    writeFileSync(
      templateFile,
      "{% for m in messages %}{{ m['content'] }}{% endfor %}{% if add_generation_prompt %} lo{% endif %}",
    );
    const lm = new LocalLanguageModel(folder, { chatTemplate: templateFile });
    const chat = await lm.generate({ prompt: [{ role: "user", content: " wider" }], maxTokens: 4 });
    const plain = await lm.generate({ prompt: " wider lo", maxTokens: 4 });
    // the template wrote no BOS and none is added: one token fewer than the plain prompt
    assert.equal(chat.usage.promptTokens, plain.usage.promptTokens - 1);
  });
});
