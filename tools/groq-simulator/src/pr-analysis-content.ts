import {
  AI_TOOLS,
  type AiTool,
  type ChangeType,
  type PrAnalysis,
  prAnalysisJsonSchema,
  type RiskLevel,
} from '../../../libs/groq-batch/src/pr-analysis/pr-analysis.schema.js';
import { seededUnit } from './determinism.js';

/** What the simulated model reads in a PR: the fields our prompt writes, or a best guess for other prompts. */
export interface PrFacts {
  repo: string;
  title: string;
  additions: number;
  deletions: number;
  changedFiles: number;
  text: string;
}

/** Markers that show an AI tool wrote or reviewed the PR, as they appear in real PR bodies, authors and reviews. */
const TOOL_MARKERS: ReadonlyArray<{ tool: AiTool; pattern: RegExp }> = [
  { tool: 'CodeRabbit', pattern: /summary by coderabbit|coderabbit(?:ai)?(?:\[bot\])?/i },
  { tool: 'Devin', pattern: /devin-ai-integration(?:\[bot\])?|app\.devin\.ai\/\S*|\bdevin\b/i },
  { tool: 'Cubic', pattern: /cubic-dev-ai(?:\[bot\])?|\bcubic\b/i },
  { tool: 'Claude', pattern: /generated with \[?claude code\]?|co-authored-by: claude[^\n]*|noreply@anthropic\.com|\bclaude\b/i },
  {
    tool: 'Cursor',
    pattern: /cursoragent@cursor\.com|cursor agent|co-authored-by: cursor[^\n]*|(?:made|written|generated|built) (?:with|by|in|using) cursor\b|\bcursor\.com\b/i,
  },
  { tool: 'Copilot', pattern: /copilot(?:-pull-request-reviewer|-swe-agent)?(?:\[bot\])?/i },
  { tool: 'Other', pattern: /\bchatgpt\b|\bopenai codex\b|gemini-code-assist|sourcery-ai|ellipsis-dev|greptile/i },
];

/** Change type from the words of the title; the first rule that matches wins (deps before chore, security first). */
const CHANGE_RULES: ReadonlyArray<{ type: ChangeType; pattern: RegExp }> = [
  { type: 'security', pattern: /^security\b|^sec\b|\bcve-\d|\bvulnerab|\bxss\b|\bcsrf\b|\bsecurity\b/i },
  { type: 'dependency', pattern: /^(?:chore|build|fix)\(deps(?:-dev)?\)|^deps\b|\bbump\b|\bdependabot\b|\brenovate\b|\bupgrade\b.*\bto v?\d/i },
  { type: 'bugfix', pattern: /^(?:fix|bugfix|hotfix|bug)\b|\bfix(?:es|ed)?\b|\bbug\b|\bcrash\b|\bregression\b/i },
  { type: 'feature', pattern: /^feat(?:ure)?\b|^(?:add|adds|implement|introduce|support)\b|\bnew\b/i },
  { type: 'refactor', pattern: /^refactor\b|\brefactor|\bclean ?up\b|\brename\b|\brestructure\b|\bextract\b/i },
  { type: 'docs', pattern: /^docs?\b|\breadme\b|\bdocumentation\b|\bchangelog\b|\btypo\b/i },
  { type: 'test', pattern: /^tests?\b|\btests?\b|\bspecs?\b|\bcoverage\b/i },
  { type: 'performance', pattern: /^perf\b|\bperformance\b|\boptimi[sz]e|\bfaster\b|\bspeed up\b|\blatency\b/i },
  { type: 'chore', pattern: /^(?:chore|ci|build|release|style)\b|\bci\b|\blint\b|\bformat(?:ting)?\b/i },
];

const CHANGE_VERBS: Record<ChangeType, string> = {
  feature: 'Adds',
  bugfix: 'Fixes',
  refactor: 'Refactors',
  docs: 'Documents',
  test: 'Tests',
  chore: 'Maintains',
  dependency: 'Updates dependencies for',
  performance: 'Speeds up',
  security: 'Hardens',
  other: 'Changes',
};

function fieldLine(text: string, name: string): string | null {
  return new RegExp(`^${name}:[ \\t]*(.*)$`, 'mi').exec(text)?.[1]?.trim() ?? null;
}

/** The user turns of a chat request (the PR); the system prompt names the tools and must not count. */
export function userText(messages: unknown): string {
  if (!Array.isArray(messages)) return '';
  const parts: string[] = [];
  for (const message of messages as Array<{ role?: unknown; content?: unknown }>) {
    if (message?.role !== 'user') continue;
    if (typeof message.content === 'string') parts.push(message.content);
    else if (Array.isArray(message.content)) {
      for (const part of message.content as Array<{ type?: unknown; text?: unknown }>) if (typeof part?.text === 'string') parts.push(part.text);
    }
  }
  return parts.join('\n');
}

export function readPrFacts(text: string): PrFacts {
  const size = /size:\s*\+(\d+)\s*-(\d+)(?:\s*in\s*(\d+)\s*files?)?/i.exec(text);
  const firstLine = text.split('\n').find((line) => line.trim() !== '' && !line.trim().startsWith('<'))?.trim() ?? '';
  return {
    repo: fieldLine(text, 'repository') ?? fieldLine(text, 'repo') ?? '',
    title: (fieldLine(text, 'title') ?? firstLine).slice(0, 200),
    additions: size ? Number(size[1]) : 40,
    deletions: size ? Number(size[2]) : 10,
    changedFiles: size?.[3] ? Number(size[3]) : 2,
    text,
  };
}

/** Conventional-commit prefixes say the type outright; they win over words further in the title. */
const CONVENTIONAL_PREFIXES: Record<string, ChangeType> = {
  feat: 'feature',
  feature: 'feature',
  fix: 'bugfix',
  bugfix: 'bugfix',
  hotfix: 'bugfix',
  refactor: 'refactor',
  docs: 'docs',
  doc: 'docs',
  test: 'test',
  tests: 'test',
  chore: 'chore',
  ci: 'chore',
  build: 'chore',
  style: 'chore',
  release: 'chore',
  perf: 'performance',
  security: 'security',
  sec: 'security',
  deps: 'dependency',
};

export function classifyChange(title: string): ChangeType {
  const clean = title.replace(/^\s*\[[^\]]*\]\s*/, '').trim();
  const conventional = /^(\w+)(?:\(([^)]*)\))?!?:/.exec(clean);
  if (conventional) {
    const scope = conventional[2]?.toLowerCase() ?? '';
    if (scope === 'deps' || scope === 'deps-dev') return 'dependency';
    const type = CONVENTIONAL_PREFIXES[conventional[1]!.toLowerCase()];
    if (type) return type;
  }
  return CHANGE_RULES.find((rule) => rule.pattern.test(clean))?.type ?? 'other';
}

export function detectAiTools(text: string): { tools: AiTool[]; evidence: string } {
  const found: Array<{ tool: AiTool; at: number; marker: string }> = [];
  for (const { tool, pattern } of TOOL_MARKERS) {
    const match = pattern.exec(text);
    if (match) found.push({ tool, at: match.index, marker: match[0] });
  }
  // Tools in schema order, evidence from the marker that appears first in the PR.
  const tools = AI_TOOLS.filter((tool) => found.some((f) => f.tool === tool));
  const first = [...found].sort((a, b) => a.at - b.at)[0];
  return { tools, evidence: first ? first.marker.trim().slice(0, 160) : '' };
}

export function assessRisk(facts: Pick<PrFacts, 'additions' | 'deletions' | 'changedFiles'>, changeType: ChangeType): RiskLevel {
  const lines = facts.additions + facts.deletions;
  if (lines > 500 || facts.changedFiles > 20) return 'high';
  if (lines > 100 || facts.changedFiles > 5 || changeType === 'security') return 'medium';
  return 'low';
}

/** A deterministic, plausible analysis of the PR, as a model following the prompt would give. */
export function analysePullRequest(text: string, seed: number, salt: string): PrAnalysis {
  const facts = readPrFacts(text);
  const changeType = classifyChange(facts.title);
  const { tools, evidence } = detectAiTools(text);
  const lines = facts.additions + facts.deletions;
  const where = facts.repo ? ` in ${facts.repo}` : '';
  const subject = facts.title.replace(/^\s*\w+(\([^)]*\))?!?:\s*/, '').trim() || 'an unnamed change';
  const summary =
    `${CHANGE_VERBS[changeType]}${where}: ${subject}. ` +
    `It touches ${facts.changedFiles} file${facts.changedFiles === 1 ? '' : 's'} (+${facts.additions} -${facts.deletions}, ${lines} lines).`;
  // Explicit markers make a model surer of itself; bare titles less so.
  const base = tools.length > 0 ? 0.8 : changeType === 'other' ? 0.55 : 0.7;
  const confidence = Math.round((base + seededUnit(seed, 'confidence', salt) * 0.15) * 100) / 100;
  return {
    summary,
    change_type: changeType,
    risk_level: assessRisk(facts, changeType),
    ai_assisted: tools.length > 0,
    ai_tools: tools,
    ai_evidence: evidence,
    confidence: Math.min(confidence, 0.99),
  };
}

const PR_ANALYSIS_KEYS = Object.keys(prAnalysisJsonSchema.properties).sort().join(',');

/** True when a requested schema is the PR-analysis contract (same property set), or when there is no schema. */
export function isPrAnalysisSchema(schema: unknown): boolean {
  if (schema === undefined || schema === null) return true;
  const properties = (schema as { properties?: unknown }).properties;
  if (typeof properties !== 'object' || properties === null) return false;
  return Object.keys(properties).sort().join(',') === PR_ANALYSIS_KEYS;
}

type SchemaNode = Record<string, unknown>;
const isNode = (value: unknown): value is SchemaNode => typeof value === 'object' && value !== null && !Array.isArray(value);

function resolveRef(root: SchemaNode, ref: string): SchemaNode {
  if (!ref.startsWith('#/')) return {};
  let node: unknown = root;
  for (const part of ref.slice(2).split('/')) node = isNode(node) ? node[part.replace(/~1/g, '/').replace(/~0/g, '~')] : undefined;
  return isNode(node) ? node : {};
}

interface WalkContext {
  root: SchemaNode;
  seed: number;
  salt: string;
  facts: PrFacts;
  depth: number;
}

function stringFor(name: string, node: SchemaNode, ctx: WalkContext): string {
  const format = typeof node.format === 'string' ? node.format : '';
  let value: string;
  if (format === 'date-time') value = '2025-12-01T12:00:00Z';
  else if (format === 'date') value = '2025-12-01';
  else if (format === 'uri' || /url|link/i.test(name)) value = ctx.facts.repo ? `https://github.com/${ctx.facts.repo}` : 'https://github.com';
  else if (format === 'email' || /email/i.test(name)) value = 'dev@example.com';
  else if (/summary|description|reason|explanation|rationale/i.test(name)) value = `${ctx.facts.title || 'The change'}: reviewed and summarised.`;
  else if (/title|name/i.test(name)) value = ctx.facts.title || 'untitled';
  else value = `${name || 'value'} for ${ctx.facts.title || 'the request'}`.trim();
  const minLength = typeof node.minLength === 'number' ? node.minLength : 0;
  const maxLength = typeof node.maxLength === 'number' ? node.maxLength : Infinity;
  if (value.length < minLength) value = value.padEnd(minLength, '.');
  return value.slice(0, maxLength);
}

function numberFor(node: SchemaNode, ctx: WalkContext, name: string, integer: boolean): number {
  const low = typeof node.minimum === 'number' ? node.minimum : typeof node.exclusiveMinimum === 'number' ? node.exclusiveMinimum + (integer ? 1 : 0.01) : 0;
  const high = typeof node.maximum === 'number' ? node.maximum : typeof node.exclusiveMaximum === 'number' ? node.exclusiveMaximum - (integer ? 1 : 0.01) : Math.max(low, 1) * 10;
  const value = low + seededUnit(ctx.seed, 'number', ctx.salt, name) * Math.max(0, high - low);
  return integer ? Math.floor(value) : Math.round(value * 100) / 100;
}

function walk(schema: unknown, name: string, ctx: WalkContext): unknown {
  let node: SchemaNode = isNode(schema) ? schema : {};
  if (typeof node.$ref === 'string') node = resolveRef(ctx.root, node.$ref);
  if ('const' in node) return node.const;
  if (Array.isArray(node.enum) && node.enum.length > 0) {
    const choices = node.enum.filter((v) => v !== null);
    return choices[Math.floor(seededUnit(ctx.seed, 'enum', ctx.salt, name) * choices.length)] ?? node.enum[0];
  }
  for (const keyword of ['anyOf', 'oneOf'] as const) {
    const branches = node[keyword];
    if (Array.isArray(branches) && branches.length > 0) {
      const branch = branches.find((b) => !(isNode(b) && b.type === 'null')) ?? branches[0];
      return walk(branch, name, ctx);
    }
  }
  if (Array.isArray(node.allOf) && node.allOf.length > 0) {
    return walk(Object.assign({}, ...node.allOf.filter(isNode)), name, ctx);
  }
  const types = Array.isArray(node.type) ? node.type.filter((t) => t !== 'null') : [node.type];
  const type = types[0] ?? (node.properties ? 'object' : node.items ? 'array' : 'string');
  const deeper: WalkContext = { ...ctx, depth: ctx.depth + 1 };
  switch (type) {
    case 'object': {
      const properties = isNode(node.properties) ? node.properties : {};
      const required = new Set(Array.isArray(node.required) ? node.required : []);
      // Past a few levels only required properties, so recursive schemas end.
      const keys = Object.keys(properties).filter((key) => ctx.depth < 4 || required.has(key));
      return Object.fromEntries(keys.map((key) => [key, walk(properties[key], key, deeper)]));
    }
    case 'array': {
      const minItems = typeof node.minItems === 'number' ? node.minItems : 0;
      const count = ctx.depth < 4 ? Math.max(minItems, 1) : minItems;
      const items = Array.isArray(node.prefixItems) ? node.prefixItems : [];
      return Array.from({ length: Math.max(count, items.length) }, (_, i) => walk(items[i] ?? node.items, `${name}[${i}]`, deeper));
    }
    case 'integer':
      return numberFor(node, ctx, name, true);
    case 'number':
      return numberFor(node, ctx, name, false);
    case 'boolean':
      return seededUnit(ctx.seed, 'boolean', ctx.salt, name) < 0.5;
    case 'null':
      return null;
    default:
      return stringFor(name, node, ctx);
  }
}

/** Any other schema: walk it and fill every property with a plausible value of its type. */
export function valueForSchema(schema: unknown, text: string, seed: number, salt: string): unknown {
  const root = isNode(schema) ? schema : {};
  return walk(root, '', { root, seed, salt, facts: readPrFacts(text), depth: 0 });
}
