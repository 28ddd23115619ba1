// Task heads: the *For<Task> models and their metrics.

export { CausalLMTaskModel, causalLmLoss, padLabelsForVirtualTokens } from "./causal-lm.js";
export { alignedTags, bioEntities, type Entity, type EntityScores, entityF1 } from "./entity-f1.js";
export {
  BertForQuestionAnswering,
  type DecodedAnswer,
  decodeAnswer,
  exactMatch,
  normalizeAnswer,
  type QaExample,
  type QaFeature,
  type QaFeatureOptions,
  questionAnsweringFeatures,
  questionAnsweringLoss,
  squadScores,
  tokenF1,
} from "./question-answering.js";
export {
  BertForSequenceClassification,
  classificationLoss,
  DecoderForSequenceClassification,
  gatherPositions,
  type HeadOptions,
  lastTokenIndices,
} from "./sequence-classification.js";
export {
  type ForwardOptions,
  TaskModel,
  TaskModelError,
  type TaskOutputs,
  type TaskTargets,
  type TaskType,
} from "./task-model.js";
export { BertForTokenClassification } from "./token-classification.js";
