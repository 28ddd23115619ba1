// Golden cases of the task heads with full fine-tuning (bert_{seqcls,tokcls,qa}_full), and the pieces the
// adapter cases share: building the case's task model, its inputs and targets.

import { join } from "node:path";
import { AdaptlmError } from "../../errors.js";
import { CausalLMTaskModel } from "../../heads/causal-lm.js";
import { BertForQuestionAnswering } from "../../heads/question-answering.js";
import { BertForSequenceClassification } from "../../heads/sequence-classification.js";
import type { TaskModel } from "../../heads/task-model.js";
import { BertForTokenClassification } from "../../heads/token-classification.js";
import { readHfConfig } from "../../io/hf-config.js";
import { GPT2LMHeadModel } from "../../models/gpt2.js";
import { LlamaForCausalLM } from "../../models/llama.js";
import type { ModelInputs } from "../../models/model-inputs.js";
import { noGrad } from "../../tensor/grad-mode.js";
import type { Tensor } from "../../tensor/index.js";
import { expectedTensor, type GoldenCase, inputMatrix, inputVector } from "./golden-case.js";
import { loadFolderWeights } from "./golden-model.js";
import type { CaseHandler } from "./handler.js";
import { checkTrainingCase } from "./training-case.js";

const HEAD_TASKS = new Set(["seq_cls", "token_cls", "qa"]);

/** The task model a case names, backbone weights from its model_dir, head parameters from init.*. */
export function goldenTaskModel(c: GoldenCase): TaskModel {
  const dir = join(c.root, c.spec.model_dir);
  const config = readHfConfig(join(dir, "config.json"));
  const numLabels = c.spec.num_labels ?? 2;
  let model: TaskModel;
  if (c.spec.task === "seq_cls") model = new BertForSequenceClassification(config, { numLabels, dropout: 0 });
  else if (c.spec.task === "token_cls")
    model = new BertForTokenClassification(config, { numLabels, dropout: 0 });
  else if (c.spec.task === "qa") model = new BertForQuestionAnswering(config);
  else if (c.spec.task === "causal_lm")
    model = new CausalLMTaskModel(
      config.family === "gpt2" ? new GPT2LMHeadModel(config) : new LlamaForCausalLM(config),
    );
  else throw new AdaptlmError("GOLDEN_CASE_UNSUPPORTED", `no task model for task "${c.spec.task}"`);
  const heads = new Set(model.headParameterNames());
  loadFolderWeights(model, dir, model.backbonePrefix, (name) => heads.has(name));
  noGrad(() => {
    for (const name of heads)
      (model.parameter(name) as Tensor).data.set(expectedTensor(c, `init.${name}`).data);
  });
  return model;
}

export function goldenInputs(c: GoldenCase): ModelInputs {
  const inputs: ModelInputs = {
    inputIds: inputMatrix(c, "input_ids"),
    attentionMask: inputMatrix(c, "attention_mask"),
  };
  if (c.inputs.token_type_ids) inputs.tokenTypeIds = inputMatrix(c, "token_type_ids");
  return inputs;
}

export function goldenTargets(c: GoldenCase): Record<string, Tensor> {
  if (c.spec.task === "qa")
    return {
      start_positions: inputVector(c, "start_positions"),
      end_positions: inputVector(c, "end_positions"),
    };
  const labels = c.inputs.labels as unknown[];
  return { labels: Array.isArray(labels[0]) ? inputMatrix(c, "labels") : inputVector(c, "labels") };
}

/** The outputs a case stores (every name in case.json -> outputs but the loss). */
export function outputNames(c: GoldenCase): string[] {
  return Object.keys((c.spec.outputs as Record<string, unknown> | undefined) ?? { logits: [] }).filter(
    (n) => n !== "loss",
  );
}

export const headFullHandler: CaseHandler = {
  name: "task head, full fine-tuning",
  handles: (spec) => HEAD_TASKS.has(spec.task) && spec.method === "full",
  run(c) {
    const model = goldenTaskModel(c);
    model.setRequiresGrad(true);
    const outputs = model.forwardOutputs(goldenInputs(c));
    const loss = model.loss(outputs, goldenTargets(c));
    const shown = Object.fromEntries(outputNames(c).map((n) => [n, outputs[n]]));
    return checkTrainingCase(c, { outputs: shown, loss, trainable: new Map(model.namedParameters()) });
  },
};
