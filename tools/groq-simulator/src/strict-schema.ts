type SchemaNode = Record<string, unknown>;

const isNode = (value: unknown): value is SchemaNode => typeof value === 'object' && value !== null && !Array.isArray(value);

function typesOf(node: SchemaNode): unknown[] {
  return Array.isArray(node.type) ? node.type : node.type === undefined ? [] : [node.type];
}

/**
 * The rules a schema must follow for `strict: true` as Cascade's team found them on Groq: every object
 * lists all its properties in `required` and sets `additionalProperties: false`, and nothing is nullable
 * (Groq's docs allow nullable unions; the stricter rule is the one the field data was produced with).
 * Returns one readable problem per violation, with its JSON pointer.
 */
export function strictSchemaProblems(schema: unknown, path = '#'): string[] {
  if (!isNode(schema)) return path === '#' ? ['# must be a JSON schema object'] : [];
  const problems: string[] = [];
  const types = typesOf(schema);
  if (types.includes('null') || schema.nullable === true) problems.push(`${path} allows null`);
  if (Array.isArray(schema.enum) && schema.enum.includes(null)) problems.push(`${path} has null in its enum`);

  const properties = isNode(schema.properties) ? schema.properties : undefined;
  if (types.includes('object') || properties) {
    if (schema.additionalProperties !== false) problems.push(`${path} must set additionalProperties: false`);
    const required = new Set(Array.isArray(schema.required) ? schema.required.filter((k): k is string => typeof k === 'string') : []);
    for (const [key, child] of Object.entries(properties ?? {})) {
      if (!required.has(key)) problems.push(`${path}/properties/${key} must be listed in required`);
      problems.push(...strictSchemaProblems(child, `${path}/properties/${key}`));
    }
  }
  if (isNode(schema.items)) problems.push(...strictSchemaProblems(schema.items, `${path}/items`));
  for (const keyword of ['anyOf', 'oneOf', 'allOf', 'prefixItems'] as const) {
    const branches = schema[keyword];
    if (Array.isArray(branches)) branches.forEach((branch, i) => problems.push(...strictSchemaProblems(branch, `${path}/${keyword}/${i}`)));
  }
  for (const keyword of ['$defs', 'definitions'] as const) {
    const defs = schema[keyword];
    if (isNode(defs)) for (const [name, def] of Object.entries(defs)) problems.push(...strictSchemaProblems(def, `${path}/${keyword}/${name}`));
  }
  return problems;
}
