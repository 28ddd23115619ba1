// Compiles the AssemblyScript kernels in assembly/ into wasm/adaptlm_kernels.wasm (baseline SIMD) and
// wasm/adaptlm_kernels_relaxed.wasm (relaxed SIMD: fused multiply-add in the GEMM) with the locally installed
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

// Two builds of the same sources: baseline SIMD (what every engine runs), and one with relaxed SIMD whose GEMM
// micro-kernel uses fused multiply-add (src/backend/wasm.ts picks it where the engine validates it).
const builds = [
  { file: join(root, "wasm", "adaptlm_kernels.wasm"), features: ["simd", "threads"] },
  { file: join(root, "wasm", "adaptlm_kernels_relaxed.wasm"), features: ["simd", "relaxed-simd", "threads"] },
];
mkdirSync(join(root, "wasm"), { recursive: true });

for (const { file: outFile, features } of builds) {
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
    ...features.flatMap((feature) => ["--enable", feature]),
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
    console.error(`build-wasm: asc failed (exit ${result.status}); ${outFile} was not built.`);
    process.exit(1);
  }
  console.log(`build-wasm: wrote ${outFile} (${statSync(outFile).size} bytes)`);
}
