// A tiny, deterministic training setup shared by the trainer tests and the child process they kill:
// a 1-layer BERT classifying whether token 5 occurs in a sequence, trained through LoRA.

import { BertForSequenceClassification } from "../../src/heads/sequence-classification.js";
import { parseHfConfig } from "../../src/io/hf-config.js";
import { LoraAdapter } from "../../src/peft/lora.js";
import * as T from "../../src/tensor/index.js";
import type { TrainExample } from "../../src/train/collate.js";
import { Trainer, type TrainerOptions } from "../../src/train/trainer.js";

export const toyConfig = parseHfConfig({
  model_type: "bert",
  hidden_size: 16,
  num_hidden_layers: 1,
  num_attention_heads: 2,
  intermediate_size: 16,
  vocab_size: 12,
  max_position_embeddings: 16,
  type_vocab_size: 2,
  hidden_dropout_prob: 0,
  pad_token_id: 0,
  initializer_range: 0.2,
});

/** n examples of length 3..6: label 1 sequences draw tokens from {4, 5, 8}, label 0 from {6, 7, 8}. */
export function toyExamples(n: number, seed: number): TrainExample[] {
  const rng = new T.Rng(seed);
  return Array.from({ length: n }, (_, i) => {
    const length = 3 + Math.floor(rng.next() * 4);
    const label = i % 2;
    const pool = label === 1 ? [4, 5, 8] : [6, 7, 8];
    const body = Array.from({ length }, () => pool[Math.floor(rng.next() * pool.length)]);
    return { inputIds: [2, ...body, 3], label };
  });
}

export function toyTrainer(options: Partial<TrainerOptions> = {}): Trainer {
  const model = new BertForSequenceClassification(toyConfig, { numLabels: 2, seed: 11, dropout: 0 });
  const adapter = new LoraAdapter({ r: 2, alpha: 4, seed: 3, targetModules: ["query", "value", "dense"] });
  return new Trainer({
    model,
    adapter,
    train: toyExamples(24, 1),
    validation: toyExamples(8, 2),
    batchSize: 4,
    epochs: 2,
    learningRate: 1e-2,
    warmupSteps: 1,
    seed: 5,
    ...options,
  });
}
