// Picks the backend the engine runs on: the best one available (native, then wasm, then reference), or the
// one named by ADAPTLM_BACKEND. Loading is lazy and happens once per process.

import { AdaptlmError } from "../errors.js";
import type { Backend, BackendName } from "./backend.js";
import { loadNativeBackend } from "./native.js";
import { referenceBackend } from "./reference.js";
import { loadWasmBackend } from "./wasm.js";

type Loader = () => Backend | null;

const loaders: Record<BackendName, Loader> = {
  native: loadNativeBackend,
  wasm: loadWasmBackend,
  reference: () => referenceBackend,
};

const preference: BackendName[] = ["native", "wasm", "reference"];
const loaded = new Map<BackendName, Backend | null>();
let current: Backend | null = null;
let selectionListener: ((backend: Backend, reason: string) => void) | null = null;

function load(name: BackendName): Backend | null {
  if (!loaded.has(name)) loaded.set(name, loaders[name]());
  return loaded.get(name) ?? null;
}

/** The backends that load on this machine, best first. */
export function availableBackends(): Backend[] {
  return preference.map(load).filter((b): b is Backend => b !== null);
}

/** A backend by name; throws a typed error when it cannot be loaded here. */
export function backendByName(name: string): Backend {
  if (!preference.includes(name as BackendName)) {
    throw new AdaptlmError(
      "UNKNOWN_BACKEND",
      `unknown backend "${name}": expected one of ${preference.join(", ")} (ADAPTLM_BACKEND)`,
    );
  }
  const backend = load(name as BackendName);
  if (!backend) {
    throw new AdaptlmError(
      "BACKEND_UNAVAILABLE",
      `backend "${name}" is not available on this machine: ${
        name === "native"
          ? "the native addon was not built (run `npm rebuild adaptlm` or `node scripts/build-native.mjs` with a C compiler installed)"
          : "the wasm kernels were not built (run `npm run build:wasm`)"
      }`,
    );
  }
  return backend;
}

/** Called once with the backend chosen by default and why; the CLI prints it, the library never does. */
export function onBackendSelected(listener: (backend: Backend, reason: string) => void): void {
  selectionListener = listener;
}

/** The engine's current backend. */
export function currentBackend(): Backend {
  if (current) return current;
  const forced = process.env.ADAPTLM_BACKEND;
  let reason: string;
  if (forced) {
    current = backendByName(forced);
    reason = `forced by ADAPTLM_BACKEND=${forced}`;
  } else {
    current = availableBackends()[0];
    const missing = preference.slice(0, preference.indexOf(current.name as BackendName));
    reason = missing.length === 0 ? "best available" : `best available (${missing.join(", ")} not available)`;
  }
  selectionListener?.(current, reason);
  return current;
}

/** Switches the engine to another backend (tests compare backends this way). */
export function setCurrentBackend(backend: Backend): void {
  current = backend;
}
