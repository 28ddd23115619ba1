export { AdamW, type AdamWOptions } from "./adamw.js";
export { clipGradNorm } from "./clip.js";
export { Optimizer, type ParamGroup, weightDecayGroups } from "./optimizer.js";
export { learningRateFactor, type ScheduleName, type ScheduleOptions } from "./schedule.js";
export { SGD, type SgdOptions } from "./sgd.js";
