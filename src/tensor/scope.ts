// Memory scopes: every tensor created while a scope is open belongs to it, and is disposed (its buffer
// returned to the backend's pool) when the scope ends, unless it is part of the scope's return value or was
// kept. This makes memory use of a training step deterministic instead of waiting for the garbage collector.

import { isGradEnabled } from "./grad-mode.js";

export interface Disposable {
  dispose(): void;
  readonly disposed: boolean;
}

const scopes: Set<Disposable>[] = [];

/** Registers a new tensor with the innermost open scope, if any. */
export function track(item: Disposable): void {
  const current = scopes[scopes.length - 1];
  if (current) current.add(item);
}

/** Removes a tensor from every open scope: it lives until disposed by hand. Returns it. */
export function keep<T extends Disposable>(item: T): T {
  for (const s of scopes) s.delete(item);
  return item;
}

function collectReturned(value: unknown, found: Set<Disposable>, depth: number): void {
  if (value === null || typeof value !== "object" || depth > 4) return;
  if ("dispose" in value && "disposed" in value) {
    found.add(value as Disposable);
    return;
  }
  // Typed arrays hold numbers, never tensors: walking a returned vocabulary row element by element cost
  // more than the decoding step that produced it.
  if (ArrayBuffer.isView(value)) return;
  const items = Array.isArray(value)
    ? value
    : value instanceof Map
      ? [...value.values()]
      : Object.values(value);
  for (const item of items) collectReturned(item, found, depth + 1);
}

/**
 * Runs fn in a new scope. Tensors it creates are disposed when it returns, except those it returns
 * (directly, or inside arrays, maps and plain objects), which move to the enclosing scope.
 */
export function scope<T>(fn: () => T): T {
  const own = new Set<Disposable>();
  scopes.push(own);
  let result: T;
  try {
    result = fn();
  } catch (error) {
    scopes.pop();
    for (const item of own) item.dispose();
    throw error;
  }
  scopes.pop();
  const returned = new Set<Disposable>();
  collectReturned(result, returned, 0);
  const parent = scopes[scopes.length - 1];
  for (const item of own) {
    if (returned.has(item)) parent?.add(item);
    else item.dispose();
  }
  return result;
}

/** Runs fn outside every scope: what it creates is not tracked (e.g. parameters and their gradients). */
export function untracked<T>(fn: () => T): T {
  const saved = scopes.splice(0, scopes.length);
  try {
    return fn();
  } finally {
    scopes.push(...saved);
  }
}

/**
 * A scope only while no gradient is recorded: a model runs each layer in one so inference frees a layer's
 * intermediates before the next layer starts (peak memory of one layer, not of the whole forward pass).
 * Under grad mode it runs fn as is, because backward needs those intermediates.
 */
export function inferenceScope<T>(fn: () => T): T {
  return isGradEnabled() ? fn() : scope(fn);
}
