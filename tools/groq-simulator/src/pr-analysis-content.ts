import { createHash } from 'node:crypto';

/** A deterministic, plausible PR analysis derived from the PR text of the request, like a model would give. */
const TOOL_MARKERS: Array<[string, RegExp]> = [
  ['CodeRabbit', /coderabbit/i],
  ['Devin', /devin-ai-integration|app\.devin\.ai|\bdevin\b/i],
  ['Cubic', /cubic-dev-ai|\bcubic\b/i],
  ['Claude', /claude code|noreply@anthropic\.com|\bclaude\b/i],
  ['Cursor', /cursor agent|cursoragent@|\bcursor\b/i],
  ['Copilot', /copilot/i],
];

const CHANGE_TYPES: Array<[string, RegExp]> = [
  ['bugfix', /^\s*(fix|bug|hotfix)/i],
  ['feature', /^\s*(feat|feature|add)/i],
  ['refactor', /^\s*refactor/i],
  ['docs', /^\s*docs?/i],
  ['test', /^\s*tests?/i],
  ['dependency', /^\s*chore\(deps\)|bump /i],
  ['chore', /^\s*chore|^\s*ci/i],
  ['performance', /^\s*perf/i],
  ['security', /^\s*(sec|security)/i],
];

function field(text: string, name: string): string {
  return new RegExp(`^${name}: (.*)$`, 'm').exec(text)?.[1] ?? '';
}

function unit(key: string): number {
  return createHash('sha256').update(key).digest().readUInt32BE(0) / 2 ** 32;
}

export function analysePrText(prompt: string, salt: string): Record<string, unknown> {
  const title = field(prompt, 'title');
  const size = /size: \+(\d+) -(\d+)/.exec(prompt);
  const changed = size ? Number(size[1]) + Number(size[2]) : 100;
  const prText = prompt;
  const tools = TOOL_MARKERS.filter(([, pattern]) => pattern.test(prText)).map(([tool]) => tool);
  const evidence = tools.length > 0 ? (TOOL_MARKERS.find(([t]) => t === tools[0])![1].exec(prText)?.[0] ?? '') : '';
  const changeType = CHANGE_TYPES.find(([, pattern]) => pattern.test(title))?.[0] ?? 'other';
  return {
    summary: `${title || 'Untitled change'}: ${changed} lines changed.`.slice(0, 400),
    change_type: changeType,
    risk_level: changed > 400 ? 'high' : changed > 120 ? 'medium' : 'low',
    ai_assisted: tools.length > 0,
    ai_tools: tools,
    ai_evidence: evidence,
    confidence: Math.round((0.6 + unit(salt) * 0.35) * 100) / 100,
  };
}

/** Any other schema: walk it and fill every property with a value of its type. */
export function valueForSchema(schema: unknown): unknown {
  const node = (schema ?? {}) as { type?: string | string[]; enum?: unknown[]; properties?: Record<string, unknown>; items?: unknown };
  if (node.enum && node.enum.length > 0) return node.enum[0];
  const type = Array.isArray(node.type) ? node.type.find((t) => t !== 'null') : node.type;
  switch (type) {
    case 'object':
      return Object.fromEntries(Object.entries(node.properties ?? {}).map(([key, child]) => [key, valueForSchema(child)]));
    case 'array':
      return [];
    case 'string':
      return '';
    case 'number':
    case 'integer':
      return 0;
    case 'boolean':
      return false;
    default:
      return null;
  }
}
