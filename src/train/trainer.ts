// The Trainer: seeded shuffling, dynamic padding, epochs or max steps, gradient accumulation, AdamW with
// warm-up + schedule and gradient clipping, evaluation every N steps, early stopping, best-checkpoint
// keeping, atomic resumable checkpoints, a JSONL log of every evaluation, progress events. It trains a task
// model fully (no adapter) or through an adapter (only the adapter's parameters train).
//
// Checkpoints (outputDir/checkpoint/): `state-<step>.safetensors` holds every trainable parameter
// (`param.<canonical name>`) and its AdamW moments (`m.` / `v.`); `trainer_state.json` (written atomically
// after the tensors) names that file and where in the data the run stands. A kill at any moment leaves the
// last complete pair, so a resumed run loses at most one checkpoint interval and continues with exactly the
// batches it would have seen. The best model by the chosen metric is kept in outputDir/best/ (a PEFT adapter
// folder, or model.safetensors for full fine-tuning).

import { appendFileSync, existsSync, mkdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { AdaptlmError } from "../errors.js";
import type { TaskModel } from "../heads/task-model.js";
import { writeFileAtomic } from "../io/atomic-file.js";
import { readSafetensors, writeSafetensors } from "../io/safetensors.js";
import { AdamW } from "../optim/adamw.js";
import { clipGradNorm } from "../optim/clip.js";
import type { ParamGroup } from "../optim/optimizer.js";
import { learningRateFactor, type ScheduleName } from "../optim/schedule.js";
import { saveAdapter } from "../peft/adapter-store.js";
import { type Adapter, forwardWithAdapter, normParameterNames } from "../peft/method.js";
import { noGrad } from "../tensor/grad-mode.js";
import type { Tensor } from "../tensor/index.js";
import * as T from "../tensor/index.js";
import { collate, shuffledOrder, type TrainExample } from "./collate.js";

export class TrainingError extends AdaptlmError {}

/** One validation example with its outputs (each output tensor's row for this example, flattened). */
export interface EvalPrediction {
  example: TrainExample;
  outputs: Record<string, Float32Array>;
}

export type TrainerEvent =
  | {
      type: "step";
      step: number;
      totalSteps: number;
      epoch: number;
      loss: number;
      learningRate: number;
      gradNorm: number | null;
      examplesPerSecond: number;
      etaSeconds: number;
    }
  | { type: "eval"; step: number; metrics: Record<string, number>; improved: boolean }
  | { type: "checkpoint"; step: number; dir: string }
  | { type: "resumed"; step: number; epoch: number }
  | { type: "early-stop"; step: number; bestStep: number }
  | { type: "done"; step: number; bestMetric: number | null; bestStep: number | null };

export interface TrainerOptions {
  model: TaskModel;
  /** Train through this adapter (attached here if it is not yet); without one every parameter trains. */
  adapter?: Adapter | null;
  train: readonly TrainExample[];
  validation?: readonly TrainExample[];
  batchSize?: number;
  evalBatchSize?: number;
  epochs?: number;
  /** Stop after this many optimizer steps (overrides epochs when reached first). */
  maxSteps?: number;
  gradientAccumulation?: number;
  learningRate?: number;
  weightDecay?: number;
  betas?: [number, number];
  eps?: number;
  schedule?: ScheduleName;
  warmupSteps?: number;
  /** Warm-up as a fraction of the total steps (used when warmupSteps is not given). */
  warmupRatio?: number;
  /** Clip the global gradient norm (0: no clipping). Default 1.0, as transformers. */
  maxGradNorm?: number;
  seed?: number;
  padTokenId?: number;
  maxLength?: number;
  /** Evaluate every N optimizer steps (default: at the end of each epoch). */
  evalEvery?: number;
  /** Task metrics from the validation predictions (the mean validation loss is always reported as "loss"). */
  metrics?: (predictions: EvalPrediction[]) => Record<string, number>;
  /** Metric choosing the best checkpoint and early stopping (default "loss"). */
  metricForBest?: string;
  /** Default: false for "loss", true otherwise. */
  greaterIsBetter?: boolean;
  /** Stop after this many evaluations without improvement. */
  earlyStoppingPatience?: number;
  /** Where checkpoints, the best model and eval_log.jsonl go (nothing is written without it). */
  outputDir?: string;
  /** Checkpoint every N optimizer steps (default: evalEvery, else every epoch). */
  checkpointEvery?: number;
  /** Continue from outputDir/checkpoint when it exists (default true). */
  resume?: boolean;
  onEvent?: (event: TrainerEvent) => void;
}

interface TrainerState {
  step: number;
  epoch: number;
  /** Next batch index within the epoch. */
  batchInEpoch: number;
  bestMetric: number | null;
  bestStep: number | null;
  evalsWithoutImprovement: number;
  file: string;
}

export interface TrainResult {
  steps: number;
  bestMetric: number | null;
  bestStep: number | null;
  stoppedEarly: boolean;
  /** Every evaluation, in order. */
  evaluations: { step: number; metrics: Record<string, number> }[];
}

const STATE_FILE = "trainer_state.json";

export class Trainer {
  private readonly model: TaskModel;
  private readonly adapter: Adapter | null;
  private readonly trainable: Map<string, Tensor>;
  private readonly optimizer: AdamW;
  private readonly o: TrainerOptions;
  private readonly batchSize: number;
  private readonly accumulation: number;
  private readonly batchesPerEpoch: number;
  readonly totalSteps: number;
  private readonly warmupSteps: number;
  private state: TrainerState;
  private readonly evaluations: { step: number; metrics: Record<string, number> }[] = [];

  constructor(options: TrainerOptions) {
    this.o = options;
    this.model = options.model;
    this.adapter = options.adapter ?? null;
    if (this.adapter && !this.adapter.attached) this.adapter.attach(this.model);
    if (!this.adapter) this.model.setRequiresGrad(true);
    this.trainable = this.adapter
      ? this.adapter.trainableParameters()
      : new Map(this.model.namedParameters());
    if (options.train.length === 0)
      throw new TrainingError("NO_TRAINING_DATA", "the training split is empty");
    this.batchSize = positive("batchSize", options.batchSize ?? 8);
    this.accumulation = positive("gradientAccumulation", options.gradientAccumulation ?? 1);
    this.batchesPerEpoch = Math.ceil(options.train.length / this.batchSize);
    const stepsPerEpoch = Math.ceil(this.batchesPerEpoch / this.accumulation);
    const epochs = positive("epochs", options.epochs ?? 1);
    this.totalSteps = Math.min(options.maxSteps ?? Number.POSITIVE_INFINITY, stepsPerEpoch * epochs);
    this.warmupSteps = options.warmupSteps ?? Math.ceil((options.warmupRatio ?? 0) * this.totalSteps);
    const norms = new Set(normParameterNames(this.model));
    const decayed: Tensor[] = [];
    const plain: Tensor[] = [];
    for (const [name, p] of this.trainable)
      (name.endsWith(".bias") || norms.has(name) ? plain : decayed).push(p);
    const groups: ParamGroup[] = [
      { params: decayed, weightDecay: options.weightDecay ?? 0.01 },
      { params: plain, weightDecay: 0 },
    ];
    this.optimizer = new AdamW(groups, {
      lr: options.learningRate ?? 5e-5,
      beta1: options.betas?.[0] ?? 0.9,
      beta2: options.betas?.[1] ?? 0.999,
      eps: options.eps ?? 1e-8,
    });
    this.state = {
      step: 0,
      epoch: 0,
      batchInEpoch: 0,
      bestMetric: null,
      bestStep: null,
      evalsWithoutImprovement: 0,
      file: "",
    };
    if (options.outputDir && (options.resume ?? true)) this.tryResume(options.outputDir);
  }

  private get checkpointDir(): string | null {
    return this.o.outputDir ? join(this.o.outputDir, "checkpoint") : null;
  }

  private emit(event: TrainerEvent): void {
    this.o.onEvent?.(event);
  }

  private tryResume(outputDir: string): void {
    const dir = join(outputDir, "checkpoint");
    const statePath = join(dir, STATE_FILE);
    if (!existsSync(statePath)) return;
    const state = JSON.parse(readFileSync(statePath, "utf8")) as TrainerState;
    const tensors = readSafetensors(join(dir, state.file)).tensors;
    noGrad(() => {
      for (const [name, p] of this.trainable) {
        const value = tensors.get(`param.${name}`);
        if (!value) {
          throw new TrainingError(
            "CHECKPOINT_MISMATCH",
            `checkpoint ${join(dir, state.file)} lacks ${name}: it was written for another model or method; use another outputDir or resume: false`,
          );
        }
        p.data.set(value.data);
        const m = tensors.get(`m.${name}`);
        const v = tensors.get(`v.${name}`);
        if (m && v) this.optimizer.setMomentsOf(p, m.data, v.data);
      }
    });
    this.optimizer.stepCount = state.step;
    this.state = state;
    const logPath = join(outputDir, "eval_log.jsonl");
    if (existsSync(logPath)) {
      // Evaluations after the checkpoint belong to the interrupted run: drop them, they will be redone.
      for (const line of readFileSync(logPath, "utf8").split("\n")) {
        if (!line.trim()) continue;
        const record = JSON.parse(line) as { step: number; metrics: Record<string, number> };
        if (record.step <= state.step) this.evaluations.push(record);
      }
      writeFileAtomic(logPath, this.evaluations.map((r) => `${JSON.stringify(r)}\n`).join(""));
    }
    this.emit({ type: "resumed", step: state.step, epoch: state.epoch });
  }

  /** Writes the checkpoint atomically: tensors first, then the state naming them, then drops the old file. */
  private checkpoint(): void {
    const dir = this.checkpointDir;
    if (!dir) return;
    mkdirSync(dir, { recursive: true });
    const tensors = new Map<string, { shape: number[]; data: Float32Array }>();
    for (const [name, p] of this.trainable) {
      tensors.set(`param.${name}`, {
        shape: [...p.shape],
        data: Float32Array.from(p.floats.subarray(0, p.size)),
      });
      const moments = this.optimizer.momentsOf(p);
      if (moments) {
        tensors.set(`m.${name}`, { shape: [...p.shape], data: moments.m });
        tensors.set(`v.${name}`, { shape: [...p.shape], data: moments.v });
      }
    }
    const file = `state-${this.state.step}.safetensors`;
    writeSafetensors(join(dir, file), tensors, { step: String(this.state.step) });
    const previous = this.state.file;
    this.state.file = file;
    writeFileAtomic(join(dir, STATE_FILE), `${JSON.stringify(this.state, null, 2)}\n`);
    if (previous && previous !== file) rmSync(join(dir, previous), { force: true });
    this.emit({ type: "checkpoint", step: this.state.step, dir });
  }

  private saveBest(): void {
    if (!this.o.outputDir) return;
    const dir = join(this.o.outputDir, "best");
    if (this.adapter) {
      saveAdapter(this.adapter, dir);
      return;
    }
    mkdirSync(dir, { recursive: true });
    const tensors = new Map<string, { shape: number[]; data: Float32Array }>();
    for (const [name, p] of this.model.namedParameters())
      tensors.set(name, { shape: [...p.shape], data: Float32Array.from(p.floats.subarray(0, p.size)) });
    writeSafetensors(join(dir, "model.safetensors"), tensors, { format: "pt" });
  }

  /** Mean validation loss, task metrics, and (sequence classification) accuracy. */
  evaluate(): Record<string, number> {
    const validation = this.o.validation ?? [];
    if (validation.length === 0) return {};
    const wasTraining = this.model.training;
    this.model.eval();
    const size = this.o.evalBatchSize ?? this.batchSize;
    const predictions: EvalPrediction[] = [];
    let lossSum = 0;
    let lossCount = 0;
    try {
      for (let start = 0; start < validation.length; start += size) {
        const examples = validation.slice(start, start + size);
        T.scope(() =>
          noGrad(() => {
            const batch = collate(examples, this.model.taskType, this.padTokenId, this.o.maxLength);
            const hasTargets = Object.keys(batch.targets).length > 0;
            const { outputs, loss } = forwardWithAdapter(
              this.model,
              this.adapter,
              batch.inputs,
              hasTargets ? batch.targets : undefined,
            );
            if (loss) {
              lossSum += loss.item() * examples.length;
              lossCount += examples.length;
            }
            examples.forEach((example, b) => {
              const rows: Record<string, Float32Array> = {};
              for (const [name, t] of Object.entries(outputs)) {
                const width = t.size / t.shape[0];
                rows[name] = Float32Array.from(t.floats.subarray(b * width, (b + 1) * width));
              }
              predictions.push({ example, outputs: rows });
            });
          }),
        );
      }
    } finally {
      this.model.train(wasTraining);
    }
    const metrics: Record<string, number> = {};
    if (lossCount > 0) metrics.loss = lossSum / lossCount;
    if (this.model.taskType === "SEQ_CLS" && predictions.every((p) => p.example.label !== undefined)) {
      let correct = 0;
      for (const p of predictions) {
        const logits = p.outputs.logits;
        let best = 0;
        for (let i = 1; i < logits.length; i++) if (logits[i] > logits[best]) best = i;
        if (best === p.example.label) correct++;
      }
      metrics.accuracy = correct / predictions.length;
    }
    Object.assign(metrics, this.o.metrics?.(predictions) ?? {});
    return metrics;
  }

  private get padTokenId(): number {
    return this.o.padTokenId ?? this.model.config.padTokenId ?? 0;
  }

  /** Runs the evaluation, logs it, keeps the best model; returns whether training should stop early. */
  private evaluateAndTrack(): boolean {
    const metrics = this.evaluate();
    if (Object.keys(metrics).length === 0) return false;
    const key = this.o.metricForBest ?? "loss";
    const value = metrics[key];
    if (value === undefined) {
      throw new TrainingError(
        "METRIC_MISSING",
        `metricForBest "${key}" is not among the evaluation metrics (${Object.keys(metrics).join(", ")})`,
      );
    }
    const greater = this.o.greaterIsBetter ?? key !== "loss";
    const best = this.state.bestMetric;
    const improved = best === null || (greater ? value > best : value < best);
    if (improved) {
      this.state.bestMetric = value;
      this.state.bestStep = this.state.step;
      this.state.evalsWithoutImprovement = 0;
      this.saveBest();
    } else this.state.evalsWithoutImprovement++;
    const record = { step: this.state.step, metrics };
    this.evaluations.push(record);
    if (this.o.outputDir) {
      mkdirSync(this.o.outputDir, { recursive: true });
      appendFileSync(join(this.o.outputDir, "eval_log.jsonl"), `${JSON.stringify(record)}\n`);
    }
    this.emit({ type: "eval", step: this.state.step, metrics, improved });
    const patience = this.o.earlyStoppingPatience;
    return patience !== undefined && this.state.evalsWithoutImprovement >= patience;
  }

  /** Trains to the end (or early stop), resuming where a checkpoint left off. */
  train(): TrainResult {
    const o = this.o;
    const train = o.train;
    const epochs = o.epochs ?? 1;
    const seed = o.seed ?? 0;
    const evalEvery = o.evalEvery;
    const checkpointEvery = o.checkpointEvery ?? evalEvery;
    const started = performance.now();
    const startStep = this.state.step;
    let examplesSeen = 0;
    let stoppedEarly = false;
    this.model.train();
    let micro = 0;
    let accumulatedLoss = 0;
    outer: for (let epoch = this.state.epoch; epoch < epochs && this.state.step < this.totalSteps; epoch++) {
      const order = shuffledOrder(train.length, seed + epoch);
      const firstBatch = epoch === this.state.epoch ? this.state.batchInEpoch : 0;
      for (let b = firstBatch; b < this.batchesPerEpoch; b++) {
        const examples = order.slice(b * this.batchSize, (b + 1) * this.batchSize).map((i) => train[i]);
        const lossValue = T.scope(() => {
          const batch = collate(examples, this.model.taskType, this.padTokenId, o.maxLength);
          let loss: Tensor;
          try {
            loss = forwardWithAdapter(this.model, this.adapter, batch.inputs, batch.targets).loss as Tensor;
          } catch (error) {
            if (error instanceof T.NonFiniteError) return Number.NaN;
            throw error;
          }
          const value = loss.item();
          if (!Number.isFinite(value)) return value;
          T.backward(T.mulScalar(loss, 1 / this.accumulation));
          return value;
        });
        if (!Number.isFinite(lossValue)) {
          const where =
            this.state.file && this.checkpointDir
              ? ` the last good checkpoint (step ${this.state.step}) is in ${this.checkpointDir}`
              : " no checkpoint was written";
          throw new TrainingError(
            "NON_FINITE_LOSS",
            `loss is ${lossValue} at epoch ${epoch}, batch ${b} (step ${this.state.step}): training diverged or the data holds bad values; lower the learning rate, and resume from${where}`,
          );
        }
        micro++;
        accumulatedLoss += lossValue;
        examplesSeen += examples.length;
        const lastOfEpoch = b === this.batchesPerEpoch - 1;
        if (micro < this.accumulation && !lastOfEpoch) continue;
        const params = [...this.trainable.values()];
        const gradNorm = (o.maxGradNorm ?? 1) > 0 ? clipGradNorm(params, o.maxGradNorm ?? 1) : null;
        const factor = learningRateFactor(o.schedule ?? "linear", this.state.step, {
          warmupSteps: this.warmupSteps,
          totalSteps: this.totalSteps,
        });
        this.optimizer.lr = (o.learningRate ?? 5e-5) * factor;
        this.optimizer.step();
        this.optimizer.zeroGrad();
        this.state.step++;
        this.state.epoch = lastOfEpoch ? epoch + 1 : epoch;
        this.state.batchInEpoch = lastOfEpoch ? 0 : b + 1;
        const elapsed = (performance.now() - started) / 1000;
        const stepsDone = this.state.step - startStep;
        this.emit({
          type: "step",
          step: this.state.step,
          totalSteps: this.totalSteps,
          epoch,
          loss: accumulatedLoss / micro,
          learningRate: this.optimizer.lr,
          gradNorm,
          examplesPerSecond: elapsed > 0 ? examplesSeen / elapsed : 0,
          etaSeconds: stepsDone > 0 ? (elapsed / stepsDone) * (this.totalSteps - this.state.step) : 0,
        });
        micro = 0;
        accumulatedLoss = 0;
        const atEval = evalEvery ? this.state.step % evalEvery === 0 : lastOfEpoch;
        const stop = atEval ? this.evaluateAndTrack() : false;
        const atCheckpoint = checkpointEvery ? this.state.step % checkpointEvery === 0 : lastOfEpoch;
        if (atCheckpoint || stop || this.state.step >= this.totalSteps) this.checkpoint();
        if (stop) {
          stoppedEarly = true;
          this.emit({ type: "early-stop", step: this.state.step, bestStep: this.state.bestStep ?? 0 });
          break outer;
        }
        if (this.state.step >= this.totalSteps) break outer;
      }
    }
    this.emit({
      type: "done",
      step: this.state.step,
      bestMetric: this.state.bestMetric,
      bestStep: this.state.bestStep,
    });
    return {
      steps: this.state.step,
      bestMetric: this.state.bestMetric,
      bestStep: this.state.bestStep,
      stoppedEarly,
      evaluations: [...this.evaluations],
    };
  }
}

function positive(name: string, value: number): number {
  if (!Number.isInteger(value) || value < 1)
    throw new TrainingError("BAD_OPTION", `${name} must be a positive integer, got ${value}`);
  return value;
}
