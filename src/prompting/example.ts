// The labelled example the prompting strategies work on. The task layer (src/tasks) has its own richer
// types; anything with named input fields and a label can be mapped to this.

export interface LabelledExample {
  /** Stable identifier (used by fixed demonstration selection and to keep a query out of its own demos). */
  id?: string;
  /** Input fields by name, e.g. { text } or { premise, hypothesis }; templates refer to them as {{name}}. */
  fields: Record<string, string>;
  /** The gold label (a class name) or answer. */
  label: string;
}

/** The example's input text: its fields joined in insertion order (for similarity and messages). */
export function exampleText(example: LabelledExample, fieldNames?: readonly string[]): string {
  const names = fieldNames ?? Object.keys(example.fields);
  return names.map((name) => example.fields[name] ?? "").join("\n");
}

/** True when both are the same example: equal ids, or (without ids) equal fields. */
export function sameExample(a: LabelledExample, b: LabelledExample): boolean {
  if (a.id !== undefined && b.id !== undefined) return a.id === b.id;
  const keys = Object.keys(a.fields);
  return keys.length === Object.keys(b.fields).length && keys.every((key) => a.fields[key] === b.fields[key]);
}
