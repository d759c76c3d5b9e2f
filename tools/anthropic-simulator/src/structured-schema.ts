type SchemaNode = Record<string, unknown>;

const isNode = (value: unknown): value is SchemaNode => typeof value === 'object' && value !== null && !Array.isArray(value);

/** Keywords structured outputs refuse outright (Anthropic's structured-outputs guide, "JSON Schema limitations"). */
const UNSUPPORTED_KEYWORDS = ['minimum', 'maximum', 'exclusiveMinimum', 'exclusiveMaximum', 'multipleOf', 'minLength', 'maxLength', 'maxItems', 'uniqueItems', 'minProperties', 'maxProperties'];

/**
 * Why Anthropic would refuse a schema in `output_config.format`: numeric, string-length and array
 * bounds (other than `minItems` 0 or 1), an object without `additionalProperties: false`, an external
 * `$ref`, or a `$ref` cycle (recursion). Each problem names its JSON pointer; empty when accepted.
 */
export function structuredSchemaProblems(schema: unknown): string[] {
  if (!isNode(schema)) return ['#: the schema must be an object'];
  const problems: string[] = [];
  walk(schema, '#', schema, new Set(), problems);
  return problems;
}

function walk(node: unknown, path: string, root: SchemaNode, refs: Set<string>, problems: string[]): void {
  if (!isNode(node)) return;
  for (const keyword of UNSUPPORTED_KEYWORDS) if (keyword in node) problems.push(`${path}: '${keyword}' is not supported`);
  if (typeof node.minItems === 'number' && node.minItems > 1) problems.push(`${path}: 'minItems' above 1 is not supported`);
  const isObject = node.type === 'object' || (Array.isArray(node.type) && node.type.includes('object')) || isNode(node.properties);
  if (isObject && node.additionalProperties !== false) problems.push(`${path}: objects must set 'additionalProperties' to false`);
  if (typeof node.$ref === 'string') {
    if (!node.$ref.startsWith('#/')) problems.push(`${path}: external '$ref' ${node.$ref} is not supported`);
    else if (refs.has(node.$ref)) problems.push(`${path}: recursive schemas are not supported (${node.$ref})`);
    else walk(resolve(root, node.$ref), node.$ref, root, new Set([...refs, node.$ref]), problems);
  }
  for (const [key, child] of Object.entries(isNode(node.properties) ? node.properties : {})) walk(child, `${path}/properties/${key}`, root, refs, problems);
  if (isNode(node.items)) walk(node.items, `${path}/items`, root, refs, problems);
  for (const keyword of ['anyOf', 'allOf', 'oneOf', 'prefixItems'] as const) {
    const branches = node[keyword];
    if (Array.isArray(branches)) branches.forEach((branch, i) => walk(branch, `${path}/${keyword}/${i}`, root, refs, problems));
  }
  // Definitions are checked where they are used (a `$ref`), so an unused recursive one is harmless.
}

function resolve(root: SchemaNode, ref: string): unknown {
  let node: unknown = root;
  for (const part of ref.slice(2).split('/')) node = isNode(node) ? node[part.replace(/~1/g, '/').replace(/~0/g, '~')] : undefined;
  return node;
}
