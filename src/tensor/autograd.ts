// Reverse-mode automatic differentiation over the graph of GradNodes that ops record.

import { ShapeError, shapeString } from "./errors.js";
import { isGradEnabled, noGrad } from "./grad-mode.js";
import { addedInto, forgetLiveRows } from "./ops/sparse-rows.js";
import { keep, untracked } from "./scope.js";
import { type GradNode, type Tensor, zeros, zerosLike } from "./tensor.js";

/** True when an op on these inputs must record a node: grad mode is on and some input requires grad. */
export function needsGrad(...inputs: (Tensor | null | undefined)[]): boolean {
  if (!isGradEnabled()) return false;
  for (const t of inputs) if (t?.requiresGrad) return true;
  return false;
}

/** Attaches the node to output, making it require grad. Returns output. */
export function record(
  output: Tensor,
  op: string,
  inputs: readonly Tensor[],
  backward: (gradOutput: Tensor, into: readonly (Tensor | null)[]) => (Tensor | null)[],
): Tensor {
  output.requiresGrad = true;
  output.node = { op, inputs, backward } satisfies GradNode;
  return output;
}

function addInto(target: Tensor, source: Tensor): void {
  target.backend.binary("add", target.floats, [1], source.floats, [1], target.floats, [target.size]);
  addedInto(target, source);
}

/** Topological order of the nodes reachable from root, outputs before inputs. */
function topologicalOrder(root: Tensor): Tensor[] {
  const order: Tensor[] = [];
  const visited = new Set<Tensor>();
  // Iterative DFS: deep models would overflow the call stack with recursion.
  const stack: [Tensor, number][] = [[root, 0]];
  visited.add(root);
  while (stack.length > 0) {
    const top = stack[stack.length - 1];
    const [t, next] = top;
    const inputs = t.node?.inputs ?? [];
    if (next < inputs.length) {
      top[1]++;
      const input = inputs[next];
      if (input.requiresGrad && !visited.has(input)) {
        visited.add(input);
        stack.push([input, 0]);
      }
    } else {
      stack.pop();
      order.push(t);
    }
  }
  return order.reverse();
}

/**
 * Back-propagates from root (a scalar unless gradOutput is given) and accumulates into the .grad of every
 * leaf that requires grad. Leaf gradients are persistent (they survive scopes) and accumulate across calls
 * until zeroed, which is how gradient accumulation works. The graph is released as it is consumed.
 */
export function backward(root: Tensor, gradOutput?: Tensor): void {
  if (!root.requiresGrad) {
    throw new ShapeError(
      "backward",
      "tensor does not require grad: no parameter it depends on has requiresGrad set",
    );
  }
  if (!gradOutput && root.size !== 1) {
    throw new ShapeError(
      "backward",
      `implicit gradient needs a scalar output, got ${shapeString(root.shape)}; pass gradOutput of the same shape`,
    );
  }
  noGrad(() => {
    const grads = new Map<Tensor, Tensor>();
    const seed = gradOutput ?? zerosLike(root);
    if (!gradOutput) root.backend.fill(seed.data, 1, 0, 1);
    grads.set(root, seed);
    for (const t of topologicalOrder(root)) {
      const g = grads.get(t);
      if (!g) continue;
      grads.delete(t);
      const node = t.node;
      if (!node) {
        // a leaf's gradient is added into in place from now on: no longer known to be zero outside rows
        forgetLiveRows(g);
        const adopted = accumulateLeaf(t, g, g !== gradOutput);
        if (!adopted && g !== gradOutput) g.dispose();
        continue;
      }
      const into = accumulationTargets(node, grads, gradOutput);
      const inputGrads = node.backward(g, into);
      if (g !== gradOutput) g.dispose();
      t.node = null;
      node.inputs.forEach((input, i) => {
        const gi = inputGrads[i];
        // added into the pending gradient in place (see GradNode.backward): nothing left to sum
        if (gi && gi === into[i]) return;
        if (!gi || !input.requiresGrad) {
          gi?.dispose();
          return;
        }
        if (gi.shape.length !== input.shape.length || gi.shape.some((d, k) => d !== input.shape[k])) {
          throw new ShapeError(
            `${node.op} backward`,
            `gradient ${shapeString(gi.shape)} does not match input ${shapeString(input.shape)} (engine bug)`,
          );
        }
        const existing = grads.get(input);
        if (existing && existing.storage.refs === 1) {
          addInto(existing, gi);
          gi.dispose();
        } else if (existing) {
          // existing views a buffer another pending gradient may still read: sum into a fresh tensor.
          const sum = zerosLike(existing);
          existing.backend.binary("add", existing.floats, [1], gi.floats, [1], sum.floats, [sum.size]);
          existing.dispose();
          gi.dispose();
          grads.set(input, sum);
        } else {
          grads.set(input, gi);
        }
      });
    }
  });
}

/**
 * The pending gradients a node may add its input gradients into (GradNode.backward's `into`): one per input
 * that has a gradient waiting, held by no other tensor, and that appears once among the node's inputs.
 */
function accumulationTargets(
  node: GradNode,
  grads: ReadonlyMap<Tensor, Tensor>,
  gradOutput: Tensor | undefined,
): (Tensor | null)[] {
  return node.inputs.map((input, i) => {
    const pending = grads.get(input);
    if (!pending || pending === gradOutput || pending.storage.refs !== 1 || !input.requiresGrad) return null;
    return node.inputs.indexOf(input) === i && node.inputs.lastIndexOf(input) === i ? pending : null;
  });
}

/**
 * Adds g into leaf.grad. A leaf without a gradient, or with a pending zero, takes g itself when it is this pass's
 * own buffer (owned, not shared with a view, exactly the leaf's size): no fill and no add. Returns whether g
 * became leaf.grad (the caller must then not dispose it).
 */
function accumulateLeaf(leaf: Tensor, g: Tensor, owned: boolean): boolean {
  const target = leaf.gradToAccumulate;
  if (target) {
    addInto(target, g);
    return false;
  }
  if (owned && g.storage.refs === 1 && g.data.length === leaf.size && g.dtype === leaf.dtype) {
    leaf.replaceGrad(keep(g));
    return true;
  }
  const copy = untracked(() => zeros(leaf.shape, leaf.dtype, leaf.backend));
  addInto(copy, g);
  leaf.replaceGrad(copy);
  return false;
}
