import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { ModelPathError, openModelWeights } from "../../src/io/model-weights.js";
import { sharedPath } from "./shared-paths.js";

describe("openModelWeights", () => {
  test("an HF folder gives its config and safetensors weights", () => {
    const { config, weights, format } = openModelWeights(sharedPath("golden/models/gpt2"));
    try {
      assert.equal(format, "safetensors");
      assert.equal(config.family, "gpt2");
      assert.deepEqual(weights.info("transformer.wte.weight").shape, [config.vocabSize, config.hiddenSize]);
    } finally {
      weights.close();
    }
  });

  test("a llama2.c checkpoint gives a llama config and HF-named weights", () => {
    const { config, weights, format } = openModelWeights(sharedPath("models/stories260K/stories260K.bin"));
    try {
      assert.equal(format, "llama2c");
      assert.equal(config.family, "llama");
      assert.deepEqual(weights.info("model.embed_tokens.weight").shape, [512, 64]);
    } finally {
      weights.close();
    }
  });

  test("unrecognised paths", () => {
    for (const path of [sharedPath("nope"), sharedPath("models/stories260K/README.md")]) {
      assert.throws(
        () => openModelWeights(path),
        (error: unknown) => error instanceof ModelPathError && error.code === "MODEL_PATH_UNRECOGNISED",
      );
    }
  });
});
