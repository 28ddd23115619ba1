// Compiles the AssemblyScript kernels in assembly/ into wasm/adaptlm_kernels.wasm with the locally installed
// assemblyscript compiler (pure JavaScript, so it works offline). Fails loudly: a build without the wasm
// kernels is a broken build.
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, statSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const require = createRequire(import.meta.url);
let ascEntry;
try {
  ascEntry = join(dirname(require.resolve("assemblyscript/package.json")), "bin", "asc.js");
} catch (error) {
  console.error("build-wasm: the assemblyscript package is not installed; run `npm install` first.");
  console.error(String(error));
  process.exit(1);
}

const outFile = join(root, "wasm", "adaptlm_kernels.wasm");
mkdirSync(dirname(outFile), { recursive: true });

const args = [
  ascEntry,
  join(root, "assembly", "index.ts"),
  "--config",
  join(root, "assembly", "asconfig.json"),
  "--outFile",
  outFile,
  "-O3",
  "--noAssert",
  "--runtime",
  "stub",
  "--use",
  "abort=",
  "--enable",
  "simd",
  "--enable",
  "threads",
  "--importMemory",
  "--sharedMemory",
  "--initialMemory",
  "64",
  "--maximumMemory",
  "65536",
  "--noExportMemory",
  "--disableWarning",
  "112",
];
const result = spawnSync(process.execPath, args, { cwd: root, stdio: "inherit" });
if (result.status !== 0 || !existsSync(outFile)) {
  console.error(`build-wasm: asc failed (exit ${result.status}); wasm/adaptlm_kernels.wasm was not built.`);
  process.exit(1);
}
console.log(`build-wasm: wrote ${outFile} (${statSync(outFile).size} bytes)`);
