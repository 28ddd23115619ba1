// Child process for the resume test: trains the toy setup into argv[2] and kills itself with SIGKILL right
// after the step given in argv[3] (so the last checkpoint is older than the kill).

import { toyTrainer } from "./toy-setup.js";

const outputDir = process.argv[2];
const killAfter = Number(process.argv[3]);
toyTrainer({
  outputDir,
  checkpointEvery: 2,
  onEvent: (event) => {
    if (event.type === "step" && event.step === killAfter) process.kill(process.pid, "SIGKILL");
  },
}).train();
