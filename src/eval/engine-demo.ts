// The engine demo: a one-layer transformer encoder trained from scratch on the toy majority task with
// AdamW, reporting the loss curve and held-out accuracy. It exercises embeddings, attention, layer norm,
// GELU, cross-entropy, autograd, scopes and the optimizer end to end on whichever backend is current.

import { currentBackend } from "../backend/registry.js";
import { Embedding, LayerNorm, Linear, Module } from "../nn/index.js";
import { AdamW, clipGradNorm, learningRateFactor, weightDecayGroups } from "../optim/index.js";
import { type ToyExample, toyMajorityExamples } from "../tasks/toy-majority.js";
import type { Tensor } from "../tensor/index.js";
import * as T from "../tensor/index.js";

export interface EngineDemoOptions {
  steps: number;
  batchSize: number;
  seqLength: number;
  hidden: number;
  heads: number;
  classes: number;
  vocabSize: number;
  lr: number;
  seed: number;
}

export const defaultEngineDemoOptions: EngineDemoOptions = {
  steps: 300,
  batchSize: 32,
  seqLength: 16,
  hidden: 32,
  heads: 4,
  classes: 3,
  vocabSize: 8,
  lr: 3e-3,
  seed: 42,
};

export interface EngineDemoProgress {
  step: number;
  steps: number;
  loss: number;
}

export interface EngineDemoResult {
  backend: string;
  parameters: number;
  losses: number[];
  trainAccuracy: number;
  testAccuracy: number;
  /** Accuracy of always answering the most frequent test label. */
  majorityBaseline: number;
  seconds: number;
}

/** One pre-norm transformer block over [batch, seq, hidden], then mean pooling and a classifier. */
class TinyEncoderClassifier extends Module {
  readonly tokens: Embedding;
  readonly positions: Embedding;
  readonly norm1: LayerNorm;
  readonly qkv: Linear;
  readonly out: Linear;
  readonly norm2: LayerNorm;
  readonly up: Linear;
  readonly down: Linear;
  readonly classifier: Linear;

  constructor(private readonly o: EngineDemoOptions) {
    super();
    const rng = new T.Rng(o.seed);
    const init = { rng, std: 0.1 };
    this.tokens = this.registerModule("tokens", new Embedding(o.vocabSize, o.hidden, init));
    this.positions = this.registerModule("positions", new Embedding(o.seqLength, o.hidden, init));
    this.norm1 = this.registerModule("norm1", new LayerNorm(o.hidden));
    this.qkv = this.registerModule("qkv", new Linear(o.hidden, 3 * o.hidden, init));
    this.out = this.registerModule("out", new Linear(o.hidden, o.hidden, init));
    this.norm2 = this.registerModule("norm2", new LayerNorm(o.hidden));
    this.up = this.registerModule("up", new Linear(o.hidden, 4 * o.hidden, init));
    this.down = this.registerModule("down", new Linear(4 * o.hidden, o.hidden, init));
    this.classifier = this.registerModule("classifier", new Linear(o.hidden, o.classes, init));
  }

  /** ids [batch, seq] -> logits [batch, classes] */
  forward(ids: Tensor, positionIds: Tensor): Tensor {
    const [batch, seq] = ids.shape;
    const { hidden, heads } = this.o;
    const headDim = hidden / heads;
    let x = T.add(this.tokens.forward(ids), this.positions.forward(positionIds)); // [batch, seq, hidden]
    const qkv = T.reshape(this.qkv.forward(this.norm1.forward(x)), [batch, seq, 3, heads, headDim]);
    const qkvHeads = T.permute(qkv, [2, 0, 3, 1, 4]); // [3, batch, heads, seq, headDim]
    const [q, k, v] = [0, 1, 2].map((i) =>
      T.reshape(T.slice(qkvHeads, 0, i, i + 1), [batch, heads, seq, headDim]),
    );
    const context = T.reshape(T.permute(T.attention(q, k, v), [0, 2, 1, 3]), [batch, seq, hidden]);
    x = T.add(x, this.out.forward(context));
    x = T.add(x, this.down.forward(T.gelu(this.up.forward(this.norm2.forward(x)))));
    return this.classifier.forward(T.mean(x, 1)); // [batch, classes]
  }
}

function batchTensors(
  examples: readonly ToyExample[],
  seqLength: number,
): { ids: Tensor; positions: Tensor; labels: Tensor } {
  return {
    ids: T.tensor(
      examples.flatMap((e) => e.ids),
      [examples.length, seqLength],
      "int32",
    ),
    positions: T.tensor(
      examples.flatMap(() => [...Array(seqLength).keys()]),
      [examples.length, seqLength],
      "int32",
    ),
    labels: T.tensor(
      examples.map((e) => e.label),
      [examples.length],
      "int32",
    ),
  };
}

function accuracy(model: TinyEncoderClassifier, examples: readonly ToyExample[], seqLength: number): number {
  return T.scope(() =>
    T.noGrad(() => {
      const { ids, positions, labels } = batchTensors(examples, seqLength);
      const predicted = T.argmax(model.forward(ids, positions), -1).ints;
      const gold = labels.ints;
      let correct = 0;
      for (let i = 0; i < examples.length; i++) if (predicted[i] === gold[i]) correct++;
      return correct / examples.length;
    }),
  );
}

/** Trains and evaluates; calls onProgress after every step. Deterministic for a seed and backend. */
export function runEngineDemo(
  options: EngineDemoOptions = defaultEngineDemoOptions,
  onProgress: (progress: EngineDemoProgress) => void = () => {},
): EngineDemoResult {
  const started = performance.now();
  const train = toyMajorityExamples({ ...options, count: 4000, seed: options.seed });
  const test = toyMajorityExamples({ ...options, count: 1000, seed: options.seed + 1 });
  const model = new TinyEncoderClassifier(options);
  const optimizer = new AdamW(weightDecayGroups(model, 0.01), { lr: options.lr });
  const rng = new T.Rng(options.seed + 2);
  const losses: number[] = [];
  for (let step = 0; step < options.steps; step++) {
    const batch = Array.from({ length: options.batchSize }, () => train[rng.int(train.length)]);
    const loss = T.scope(() => {
      const { ids, positions, labels } = batchTensors(batch, options.seqLength);
      const value = T.crossEntropy(model.forward(ids, positions), labels);
      optimizer.zeroGrad();
      T.backward(value);
      clipGradNorm(model.parameters(), 1.0);
      optimizer.lr =
        options.lr * learningRateFactor("linear", step, { warmupSteps: 20, totalSteps: options.steps });
      optimizer.step();
      return value.item();
    });
    losses.push(loss);
    onProgress({ step: step + 1, steps: options.steps, loss });
  }
  const counts = new Array<number>(options.classes).fill(0);
  for (const e of test) counts[e.label]++;
  return {
    backend: currentBackend().name,
    parameters: model.parameterCount(),
    losses,
    trainAccuracy: accuracy(model, train.slice(0, 1000), options.seqLength),
    testAccuracy: accuracy(model, test, options.seqLength),
    majorityBaseline: Math.max(...counts) / test.length,
    seconds: (performance.now() - started) / 1000,
  };
}
