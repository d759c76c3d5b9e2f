type SchemaNode = Record<string, unknown>;

const isNode = (value: unknown): value is SchemaNode => typeof value === 'object' && value !== null && !Array.isArray(value);

function typesOf(node: SchemaNode): unknown[] {
  return Array.isArray(node.type) ? node.type : node.type === undefined ? [] : [node.type];
}

/** Where the providers' strict modes differ. */
export interface StrictRules {
  /** OpenAI: an optional field is written `["T", "null"]`; Groq's strict mode (as found) refuses null. */
  allowNull: boolean;
  /** OpenAI: the root is an object, not `anyOf`. */
  rootObject: boolean;
}

export const GROQ_STRICT_RULES: StrictRules = { allowNull: false, rootObject: false };
export const OPENAI_STRICT_RULES: StrictRules = { allowNull: true, rootObject: true };

/**
 * The rules a schema must follow for `strict: true`: every object lists all its properties in `required`
 * and sets `additionalProperties: false`. On Groq, as Cascade's team found it, nothing is nullable
 * either (Groq's docs allow nullable unions; the stricter rule is the one the field data was produced
 * with); OpenAI allows null and wants an object at the root. Returns one readable problem per
 * violation, with its JSON pointer.
 */
export function strictSchemaProblems(schema: unknown, path = '#', rules: StrictRules = GROQ_STRICT_RULES): string[] {
  if (!isNode(schema)) return path === '#' ? ['# must be a JSON schema object'] : [];
  const problems: string[] = [];
  const types = typesOf(schema);
  if (path === '#' && rules.rootObject && (!types.includes('object') || schema.anyOf !== undefined)) problems.push('# must be an object schema, not anyOf');
  if (!rules.allowNull && (types.includes('null') || schema.nullable === true)) problems.push(`${path} allows null`);
  if (!rules.allowNull && Array.isArray(schema.enum) && schema.enum.includes(null)) problems.push(`${path} has null in its enum`);

  const properties = isNode(schema.properties) ? schema.properties : undefined;
  if (types.includes('object') || properties) {
    if (schema.additionalProperties !== false) problems.push(`${path} must set additionalProperties: false`);
    const required = new Set(Array.isArray(schema.required) ? schema.required.filter((k): k is string => typeof k === 'string') : []);
    for (const [key, child] of Object.entries(properties ?? {})) {
      if (!required.has(key)) problems.push(`${path}/properties/${key} must be listed in required`);
      problems.push(...strictSchemaProblems(child, `${path}/properties/${key}`, rules));
    }
  }
  if (isNode(schema.items)) problems.push(...strictSchemaProblems(schema.items, `${path}/items`, rules));
  for (const keyword of ['anyOf', 'oneOf', 'allOf', 'prefixItems'] as const) {
    const branches = schema[keyword];
    if (Array.isArray(branches)) branches.forEach((branch, i) => problems.push(...strictSchemaProblems(branch, `${path}/${keyword}/${i}`, rules)));
  }
  for (const keyword of ['$defs', 'definitions'] as const) {
    const defs = schema[keyword];
    if (isNode(defs)) for (const [name, def] of Object.entries(defs)) problems.push(...strictSchemaProblems(def, `${path}/${keyword}/${name}`, rules));
  }
  return problems;
}
