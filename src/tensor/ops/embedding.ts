// Embedding lookup: gathers rows of a table by integer ids; the backward pass scatter-adds into the table.

import { needsGrad, record } from "../autograd.js";
import { DTypeError, IndexRangeError, ShapeError, shapeString } from "../errors.js";
import { empty, type Tensor, zeros } from "../tensor.js";
import { requireFloat } from "./elementwise.js";

/**
 * table [vocab, dim], ids int32 [...] -> [..., dim]. Rows equal to paddingIdx get no gradient
 * (torch.nn.Embedding's padding_idx).
 */
export function embedding(table: Tensor, ids: Tensor, paddingIdx = -1): Tensor {
  requireFloat("embedding", table);
  if (ids.dtype !== "int32") throw new DTypeError("embedding", `ids must be int32, got ${ids.dtype}`);
  if (table.rank !== 2)
    throw new ShapeError("embedding", `table must be [vocab, dim], got ${shapeString(table.shape)}`);
  const [vocab, dim] = table.shape;
  const idData = ids.ints;
  for (let i = 0; i < ids.size; i++) {
    if (idData[i] < 0 || idData[i] >= vocab) {
      throw new IndexRangeError(
        "embedding",
        `id ${idData[i]} at position ${i} is outside the vocabulary [0, ${vocab}); check the tokenizer matches the model`,
      );
    }
  }
  const out = empty([...ids.shape, dim], table.dtype, table.backend);
  table.backend.gatherRows(table.floats, idData.subarray(0, ids.size), out.floats, dim);
  if (needsGrad(table)) {
    record(out, "embedding", [table], (g) => {
      const dTable = zeros(table.shape, table.dtype, table.backend);
      table.backend.scatterAddRows(g.floats, idData.subarray(0, ids.size), dTable.floats, dim, paddingIdx);
      return [dTable];
    });
  }
  return out;
}
