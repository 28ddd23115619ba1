// Builds the native backend (binding.gyp -> build/Release/adaptlm_native.node) with node-gyp; run by
// `npm install`. A failed build (no C compiler, no Node headers) is not fatal: it prints one warning line
// and exits 0, and adaptlm then runs on its wasm/reference backends.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");

/** node-gyp as npm bundles it, next to the running node; else whatever npx finds without downloading. */
function nodeGypCommand() {
  const prefix = dirname(dirname(process.execPath));
  const candidates = [
    process.env.npm_config_node_gyp,
    join(prefix, "lib", "node_modules", "npm", "node_modules", "node-gyp", "bin", "node-gyp.js"),
    join(prefix, "node_modules", "npm", "node_modules", "node-gyp", "bin", "node-gyp.js"),
  ];
  for (const candidate of candidates) {
    if (candidate && existsSync(candidate)) return [process.execPath, [candidate]];
  }
  return ["npx", ["--no-install", "node-gyp"]];
}

/** Use the headers installed with node itself when present, so the build works offline. */
function nodedirArgs() {
  if (process.env.npm_config_nodedir) return [];
  const prefix = dirname(dirname(process.execPath));
  return existsSync(join(prefix, "include", "node", "node_api.h")) ? [`--nodedir=${prefix}`] : [];
}

const [command, prefixArgs] = nodeGypCommand();
const args = [...prefixArgs, "rebuild", "--release", ...nodedirArgs()];
const verbose = process.env.ADAPTLM_NATIVE_VERBOSE === "1";
const result = spawnSync(command, args, { cwd: root, stdio: verbose ? "inherit" : "pipe", encoding: "utf8" });
if (result.status !== 0 || !existsSync(join(root, "build", "Release", "adaptlm_native.node"))) {
  const output = `${result.stderr ?? ""}\n${result.stdout ?? ""}`;
  const reason =
    result.error?.message ??
    output
      .split("\n")
      .map((line) => line.trim())
      .find((line) => /error/i.test(line)) ??
    `node-gyp exited with status ${result.status}`;
  console.warn(
    `adaptlm: native backend not built (${reason.slice(0, 200)}); using the wasm backend instead. ` +
      "Set ADAPTLM_NATIVE_VERBOSE=1 and run `node scripts/build-native.mjs` to see the full build log.",
  );
}
process.exit(0);
