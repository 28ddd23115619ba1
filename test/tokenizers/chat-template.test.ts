// Chat templates: the real templates of Llama-2-chat, Qwen2-Instruct (ChatML) and Zephyr rendered exactly as
// transformers' apply_chat_template renders them; named templates; errors; the opt-in plain transcript.

import assert from "node:assert/strict";
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import {
  ChatTemplate,
  ChatTemplateError,
  chatFormatFor,
  PLAIN_TRANSCRIPT,
  parseChatTemplateField,
  readChatTemplateFile,
  readChatTemplates,
  selectChatTemplate,
} from "../../src/tokenizers/chat-template.js";
import { makeTempDir } from "../io/temp-dir.js";

// compiled to dist/test/tokenizers/: the JSON fixtures stay in the source tree
const fixtures = fileURLToPath(new URL("../../../test/tokenizers/fixtures/", import.meta.url));

function templateOf(file: string): ChatTemplate {
  const config = JSON.parse(readFileSync(join(fixtures, file), "utf8")) as Record<string, string | null>;
  const specials: Record<string, string> = {};
  for (const key of ["bos_token", "eos_token", "unk_token", "pad_token"]) {
    const value = config[key];
    if (typeof value === "string") specials[key] = value;
  }
  return new ChatTemplate(selectChatTemplate(readChatTemplateFile(join(fixtures, file))), specials);
}

const conversation = [
  { role: "system", content: "You are a helpful assistant." },
  { role: "user", content: "What is 2 + 2?" },
  { role: "assistant", content: "It is 4." },
  { role: "user", content: "And 3 + 3?" },
];

describe("chat templates", () => {
  test("Llama-2-chat: system folded into the first [INST], BOS per user turn, EOS after each reply", () => {
    const template = templateOf("llama-2-7b-chat-hf.tokenizer_config.json");
    assert.equal(
      template.render(conversation),
      "<s>[INST] <<SYS>>\nYou are a helpful assistant.\n<</SYS>>\n\nWhat is 2 + 2? [/INST] It is 4. </s>" +
        "<s>[INST] And 3 + 3? [/INST]",
    );
    assert.equal(
      template.render([{ role: "user", content: "  Hello  " }]),
      "<s>[INST] Hello [/INST]",
      "content.strip()",
    );
    assert.throws(
      () =>
        template.render([
          { role: "user", content: "a" },
          { role: "user", content: "b" },
        ]),
      (error: unknown) =>
        error instanceof ChatTemplateError &&
        error.code === "CHAT_TEMPLATE_RENDER" &&
        /Conversation roles must alternate/.test(error.message),
    );
  });

  test("Qwen2-Instruct (ChatML): default system turn, generation prompt only when asked", () => {
    const template = templateOf("qwen2-0.5b-instruct.tokenizer_config.json");
    assert.equal(
      template.render([{ role: "user", content: "Hi" }]),
      "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n" +
        "<|im_start|>user\nHi<|im_end|>\n" +
        "<|im_start|>assistant\n",
    );
    assert.equal(
      template.render(conversation, { addGenerationPrompt: false }),
      "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n" +
        "<|im_start|>user\nWhat is 2 + 2?<|im_end|>\n" +
        "<|im_start|>assistant\nIt is 4.<|im_end|>\n" +
        "<|im_start|>user\nAnd 3 + 3?<|im_end|>\n",
    );
  });

  test("Zephyr: trim_blocks/lstrip_blocks as transformers, eos_token after every turn", () => {
    const template = templateOf("zephyr-7b-beta.tokenizer_config.json");
    assert.equal(
      template.render([
        {
          role: "system",
          content: "You are a friendly chatbot who always responds in the style of a pirate",
        },
        { role: "user", content: "How many helicopters can a human eat in one sitting?" },
      ]),
      "<|system|>\nYou are a friendly chatbot who always responds in the style of a pirate</s>\n" +
        "<|user|>\nHow many helicopters can a human eat in one sitting?</s>\n" +
        "<|assistant|>\n",
    );
    assert.equal(
      template.render(conversation.slice(1, 3), { addGenerationPrompt: false }),
      "<|user|>\nWhat is 2 + 2?</s>\n<|assistant|>\nIt is 4.</s>\n",
    );
  });

  test("a model folder's template is found in tokenizer_config.json, chat_template.jinja or chat_template.json", () => {
    const dir = makeTempDir("chat-template");
    const fromConfig = join(dir, "config-folder");
    mkdirSync(fromConfig);
    copyFileSync(
      join(fixtures, "qwen2-0.5b-instruct.tokenizer_config.json"),
      join(fromConfig, "tokenizer_config.json"),
    );
    assert.match(readChatTemplates(fromConfig)?.default ?? "", /<\|im_start\|>/);

    const fromJinja = join(dir, "jinja-folder");
    mkdirSync(fromJinja);
    writeFileSync(join(fromJinja, "tokenizer_config.json"), JSON.stringify({ eos_token: "</s>" }));
    writeFileSync(join(fromJinja, "chat_template.jinja"), "{{ messages[0]['content'] }}!");
    assert.deepEqual(readChatTemplates(fromJinja), { default: "{{ messages[0]['content'] }}!" });

    const none = join(dir, "no-template");
    mkdirSync(none);
    writeFileSync(join(none, "tokenizer_config.json"), JSON.stringify({ eos_token: "</s>" }));
    assert.equal(readChatTemplates(none), undefined);
    const tokenizer = { specialTokens: { eos: { token: "</s>", id: 2 } } };
    assert.throws(
      () => chatFormatFor(none, tokenizer),
      (error: unknown) =>
        error instanceof ChatTemplateError &&
        error.code === "CHAT_TEMPLATE_MISSING" &&
        /has no chat template.*plain "role: content" transcript/.test(error.message),
    );
    const plain = chatFormatFor(none, tokenizer, { plainFallback: true });
    assert.equal(plain.kind, "plain");
    assert.equal(
      plain.render([
        { role: "system", content: "Be brief." },
        { role: "user", content: "Hi" },
      ]),
      "system: Be brief.\nuser: Hi\nassistant:",
    );
    assert.deepEqual(plain.stop, ["\nuser:"]);
    assert.equal(plain.cleanReply(" Hello"), "Hello");
    assert.equal(
      PLAIN_TRANSCRIPT.render([{ role: "user", content: "x" }], { addGenerationPrompt: false }),
      "user: x\n",
    );

    const templated = chatFormatFor(fromJinja, tokenizer);
    assert.equal(templated.kind, "template");
    assert.equal(templated.addSpecialTokens, false);
    assert.deepEqual(templated.endOfTurnTokenIds, [2]);
    assert.deepEqual(plain.endOfTurnTokenIds, []);
    assert.equal(templated.render([{ role: "user", content: "hey" }]), "hey!");
  });

  test("named templates: default unless one is chosen; unknown names and bad fields are typed errors", () => {
    const sources = parseChatTemplateField(
      [
        { name: "default", template: "{{ bos_token }}{{ messages[0]['content'] }}" },
        { name: "rag", template: "{{ documents[0] }}: {{ messages[0]['content'] }}" },
      ],
      "tokenizer_config.json",
    );
    const specials = { bos_token: "<s>" };
    const message = [{ role: "user", content: "q" }];
    assert.equal(new ChatTemplate(selectChatTemplate(sources), specials).render(message), "<s>q");
    assert.equal(
      new ChatTemplate(selectChatTemplate(sources, "rag"), specials).render(message, {
        variables: { documents: ["doc"] },
      }),
      "doc: q",
    );
    assert.throws(
      () => selectChatTemplate(sources, "tool_use"),
      /no chat template named "tool_use" \(it has: default, rag\)/,
    );
    assert.throws(
      () => selectChatTemplate({ rag: "x" }),
      (error: unknown) => error instanceof ChatTemplateError && error.code === "CHAT_TEMPLATE_NAME",
    );
    assert.throws(
      () => parseChatTemplateField([{ name: "a" }], "cfg"),
      (error: unknown) => error instanceof ChatTemplateError && error.code === "CHAT_TEMPLATE_BAD",
    );
    assert.throws(
      () => new ChatTemplate("{% for m in messages %}"),
      (error: unknown) => error instanceof ChatTemplateError && error.code === "CHAT_TEMPLATE_BAD",
    );
  });
});
