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
export { type LabRecipeData, labRecipeData } from "./lab-recipe-data.js";
export { type MaskedTokens, MaskingError, type MlmMaskingOptions, maskTokens } from "./mlm-masking.js";
export {
  PretrainError,
  type PretrainEvent,
  type PretrainObjective,
  type PretrainOptions,
  type PretrainResult,
  packBlocks,
  pretrain,
  pretrainAsync,
  pretrainLearningRate,
  readTextDocuments,
} from "./pretrain.js";
export {
  getRecipe,
  type PretrainRecipe,
  RECIPE_NAMES,
  RECIPES,
  RecipeError,
  recipeOptions,
} from "./recipes.js";
export { classificationMetrics, entityMetrics } from "./task-metrics.js";
export {
  type EvalPrediction,
  Trainer,
  type TrainerEvent,
  type TrainerOptions,
  TrainingError,
  type TrainResult,
} from "./trainer.js";
