// Training: batching with dynamic padding and the Trainer loop.

export { type Batch, CollateError, collate, shuffledOrder, type TrainExample } from "./collate.js";
export {
  type EvalPrediction,
  Trainer,
  type TrainerEvent,
  type TrainerOptions,
  TrainingError,
  type TrainResult,
} from "./trainer.js";
