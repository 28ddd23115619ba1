// Case handlers that need only the models: BERT base forward, causal-LM full fine-tuning, greedy generation.

import { causalLmLoss } from "../../heads/causal-lm.js";
import type { BertModel } from "../../models/bert.js";
import { generate } from "../../models/generate.js";
import type { GPT2LMHeadModel } from "../../models/gpt2.js";
import type { LlamaForCausalLM } from "../../models/llama.js";
import * as T from "../../tensor/index.js";
import { type Check, compareAbs, compareExact } from "./checks.js";
import { expectedTensor, inputMatrix } from "./golden-case.js";
import { goldenBaseModel } from "./golden-model.js";
import type { CaseHandler } from "./handler.js";
import { checkTrainingCase } from "./training-case.js";

export const baseForwardHandler: CaseHandler = {
  name: "base forward",
  handles: (spec) => spec.task === "base_forward",
  run(c) {
    const model = goldenBaseModel(c) as BertModel;
    const out = T.noGrad(() =>
      model.forward({
        inputIds: inputMatrix(c, "input_ids"),
        attentionMask: inputMatrix(c, "attention_mask"),
        tokenTypeIds: inputMatrix(c, "token_type_ids"),
      }),
    );
    const atol = c.spec.tolerances.outputs_atol;
    const checks = [
      compareAbs(
        "last_hidden_state",
        out.lastHiddenState.data,
        expectedTensor(c, "last_hidden_state").data,
        atol,
      ),
    ];
    if (c.expected.has("pooler_output") && out.poolerOutput) {
      checks.push(
        compareAbs("pooler_output", out.poolerOutput.data, expectedTensor(c, "pooler_output").data, atol),
      );
    }
    return checks;
  },
};

export const causalLmFullHandler: CaseHandler = {
  name: "causal LM, full fine-tuning",
  handles: (spec) => spec.task === "causal_lm" && spec.method === "full",
  run(c) {
    const model = goldenBaseModel(c) as GPT2LMHeadModel | LlamaForCausalLM;
    const logits = model.forward({
      inputIds: inputMatrix(c, "input_ids"),
      attentionMask: inputMatrix(c, "attention_mask"),
    });
    const loss = causalLmLoss(logits, inputMatrix(c, "labels"));
    return checkTrainingCase(c, { outputs: { logits }, loss, trainable: new Map(model.namedParameters()) });
  },
};

export const generateHandler: CaseHandler = {
  name: "greedy generation",
  handles: (spec) => spec.task === "generate",
  run(c) {
    const model = goldenBaseModel(c) as GPT2LMHeadModel | LlamaForCausalLM;
    const prompts = c.inputs.prompts as number[][];
    const maxNewTokens = c.inputs.max_new_tokens as number;
    const tolerances = c.spec.tolerances as unknown as { step_logits_atol?: number };
    const stepLogitsTolerance = tolerances.step_logits_atol ?? 1e-4;
    const checks: Check[] = [];
    prompts.forEach((prompt, i) => {
      for (const useCache of [true, false]) {
        const result = generate(model, prompt, { maxNewTokens, useCache, keepLogits: true });
        const label = useCache ? "cached" : "uncached";
        checks.push(
          compareExact(
            `new_tokens.${i} (${label})`,
            result.tokens,
            expectedTensor(c, `new_tokens.${i}`).data,
          ),
        );
        checks.push(
          compareExact(
            `sequences.${i} (${label})`,
            [...prompt, ...result.tokens],
            expectedTensor(c, `sequences.${i}`).data,
          ),
        );
        const stepLogits = new Float32Array(result.stepLogits.length * (result.stepLogits[0]?.length ?? 0));
        result.stepLogits.forEach((row, s) => {
          stepLogits.set(row, s * row.length);
        });
        checks.push(
          compareAbs(
            `step_logits.${i} (${label})`,
            stepLogits,
            expectedTensor(c, `step_logits.${i}`).data,
            stepLogitsTolerance,
          ),
        );
      }
    });
    return checks;
  },
};
