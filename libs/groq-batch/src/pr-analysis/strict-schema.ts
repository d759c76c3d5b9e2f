/** Keywords left out of the provider schema: strict (constrained-decoding) mode does not promise them. */
const UNSUPPORTED_IN_STRICT = ['minLength', 'maxLength', 'pattern', 'format', 'minimum', 'maximum', 'exclusiveMinimum', 'exclusiveMaximum', 'multipleOf', 'minItems', 'maxItems', 'uniqueItems', 'minProperties', 'maxProperties'];

type SchemaNode = {
  type?: unknown;
  enum?: unknown;
  const?: unknown;
  nullable?: unknown;
  properties?: Record<string, unknown>;
  required?: unknown;
  additionalProperties?: unknown;
  items?: unknown;
  anyOf?: unknown;
  oneOf?: unknown;
  allOf?: unknown;
  $defs?: Record<string, unknown>;
  definitions?: Record<string, unknown>;
};

/**
 * The problems that would make a schema unfit for Groq's strict mode as the field team made it
 * work: every object closes `additionalProperties` and lists every property in `required`, no
 * type (or enum value, or `nullable`) admits null, arrays say what they hold, and no keyword that
 * constrained decoding does not promise. Empty when the schema is fit.
 */
export function strictModeProblems(schema: unknown, path = '#'): string[] {
  if (typeof schema !== 'object' || schema === null) return [`${path}: not a schema object`];
  const node = schema as SchemaNode & Record<string, unknown>;
  const problems: string[] = [];
  const types = Array.isArray(node.type) ? node.type : node.type === undefined ? [] : [node.type];
  if (types.includes('null')) problems.push(`${path}: null type`);
  if (node.nullable === true) problems.push(`${path}: nullable`);
  if (Array.isArray(node.enum) && node.enum.includes(null)) problems.push(`${path}: null in enum`);
  if (node.const === null) problems.push(`${path}: const null`);
  if (node.type === undefined && !node.enum && node.const === undefined && !node.anyOf && !node.oneOf && !node.allOf && !('$ref' in node)) {
    problems.push(`${path}: no type`);
  }
  for (const keyword of UNSUPPORTED_IN_STRICT) if (keyword in node) problems.push(`${path}: ${keyword} is not supported in strict mode`);

  if (types.includes('object') || node.properties) {
    if (node.additionalProperties !== false) problems.push(`${path}: additionalProperties must be false`);
    const required = new Set(Array.isArray(node.required) ? (node.required as unknown[]) : []);
    const properties = node.properties ?? {};
    if (Object.keys(properties).length === 0) problems.push(`${path}: object without properties`);
    for (const [key, child] of Object.entries(properties)) {
      if (!required.has(key)) problems.push(`${path}/properties/${key}: not in required`);
      problems.push(...strictModeProblems(child, `${path}/properties/${key}`));
    }
    for (const key of required) if (typeof key !== 'string' || !(key in properties)) problems.push(`${path}: required lists unknown property ${String(key)}`);
  }
  if (types.includes('array')) {
    if (node.items === undefined) problems.push(`${path}: array without items`);
    else problems.push(...strictModeProblems(node.items, `${path}/items`));
  }
  for (const combinator of ['anyOf', 'oneOf', 'allOf'] as const) {
    const branches = node[combinator];
    if (Array.isArray(branches)) branches.forEach((branch, i) => problems.push(...strictModeProblems(branch, `${path}/${combinator}/${i}`)));
  }
  for (const defs of ['$defs', 'definitions'] as const) {
    for (const [name, child] of Object.entries(node[defs] ?? {})) problems.push(...strictModeProblems(child, `${path}/${defs}/${name}`));
  }
  return problems;
}
