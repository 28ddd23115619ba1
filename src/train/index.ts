// Training: batching with dynamic padding and the Trainer loop.

export { type Batch, CollateError, collate, shuffledOrder, type TrainExample } from "./collate.js";
export {
  compareMethods,
  defaultMethodSpecs,
  type MethodComparisonRow,
  type MethodSpec,
} from "./compare-methods.js";
export {
  type ClassificationFields,
  classificationExamples,
  type DataRecord,
  DatasetError,
  findSplits,
  inferLabels,
  parseDelimited,
  readRecords,
} from "./dataset.js";
export { classificationMetrics, entityMetrics } from "./task-metrics.js";
export {
  type EvalPrediction,
  Trainer,
  type TrainerEvent,
  type TrainerOptions,
  TrainingError,
  type TrainResult,
} from "./trainer.js";
