// An indexed list of modules named "0", "1", ... (torch.nn.ModuleList), for stacks of transformer layers.

import { Module } from "./module.js";

export class ModuleList<M extends Module> extends Module {
  readonly items: M[];

  constructor(items: M[]) {
    super();
    this.items = items;
    items.forEach((item, i) => {
      this.registerModule(String(i), item);
    });
  }

  get length(): number {
    return this.items.length;
  }

  at(index: number): M {
    return this.items[index];
  }
}

/** A module that only groups named children (BERT's `encoder`, `pooler`, `intermediate`), like a ModuleDict. */
export class ModuleGroup extends Module {
  constructor(children: Record<string, Module> = {}) {
    super();
    for (const [name, child] of Object.entries(children)) this.setModule(name, child);
  }
}
