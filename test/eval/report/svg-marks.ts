// Reading Vega's SVG in tests: the marks of the data are found by the names the chart builders give them
// (Vega writes a mark's name into its group's class).

import assert from "node:assert/strict";

/** The SVG of the report figure whose caption starts with `title`. */
export function figure(html: string, title: string): string {
  const figures = html.split("<figure>").slice(1);
  const found = figures.filter((f) => f.includes(`<figcaption>${title}`));
  assert.equal(found.length, 1, `one figure titled "${title}"`);
  return found[0] as string;
}

/** Elements `tag` inside the mark groups of `type` named `name`. */
export function countMarks(svg: string, type: string, name: string, tag: string): number {
  const pattern = new RegExp(`<g class="mark-${type} role-mark ${name}"[^>]*>(.*?)</g>`, "g");
  let count = 0;
  for (const match of svg.matchAll(pattern))
    count += (match[1]?.match(new RegExp(`<${tag}[ >]`, "g")) ?? []).length;
  return count;
}
