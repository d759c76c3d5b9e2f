import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Ajv, type ValidateFunction } from 'ajv';
import { resultShapeProblems } from './pr-analysis.schema.js';
import { strictModeProblems } from './strict-schema.js';

/** A JSON Schema as read from a version's `schema.json`. */
export type JsonSchema = Record<string, unknown>;

/** The placeholders a user template may use; each is filled once, untrusted values fenced. */
export const TEMPLATE_PLACEHOLDERS = ['repo', 'author', 'title', 'labels', 'additions', 'deletions', 'changedFiles', 'body', 'reviews'] as const;
export type TemplatePlaceholder = (typeof TEMPLATE_PLACEHOLDERS)[number];

/** The files of one version folder `prompts/<id>/`. */
export const PROMPT_FILES = { manifest: 'manifest.json', system: 'system.txt', user: 'user.txt', schema: 'schema.json' } as const;

/** One prompt version, loaded and checked: what is sent and what the answer is validated against. */
export interface PromptVersionSpec {
  id: string;
  /** `response_format.json_schema.name` (Groq: `[A-Za-z0-9_-]`, up to 64 characters). */
  schemaName: string;
  description: string;
  system: string;
  userTemplate: string;
  /** The output schema, sent as is and compiled as is for validation: one schema. */
  schema: JsonSchema;
  validate: ValidateFunction;
  dir: string;
}

/** A version folder that cannot be used: names the file and the field at fault. */
export class PromptFileError extends Error {
  constructor(
    readonly file: string,
    readonly field: string,
    problem: string,
  ) {
    super(`prompt file ${file}: ${field} ${problem}`);
    this.name = 'PromptFileError';
  }
}

/** A request or setting names a prompt version that has no folder: refused before anything is sent. */
export class UnknownPromptVersionError extends Error {
  constructor(
    readonly version: string,
    readonly known: readonly string[],
  ) {
    super(`unknown prompt version ${JSON.stringify(version)} (known: ${known.join(', ') || 'none'})`);
    this.name = 'UnknownPromptVersionError';
  }
}

const VERSION_ID = /^[a-z0-9][a-z0-9._-]{0,99}$/;
const SCHEMA_NAME = /^[A-Za-z0-9_-]{1,64}$/;
const PLACEHOLDER = /\{\{(\w+)\}\}/g;

/** A text file's content without the one final newline editors add. */
function readText(file: string): string {
  const text = readFileSync(file, 'utf8');
  return text.endsWith('\n') ? text.slice(0, -1) : text;
}

function readJson(file: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    throw new PromptFileError(file, '(file)', 'is missing');
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new PromptFileError(file, '(file)', `is not JSON: ${(error as Error).message}`);
  }
}

function requireText(file: string, field: string, value: unknown, pattern?: RegExp): string {
  if (typeof value !== 'string' || value.trim() === '') throw new PromptFileError(file, field, 'must be a non-empty string');
  if (pattern && !pattern.test(value)) throw new PromptFileError(file, field, `must match ${pattern.source} (got ${JSON.stringify(value)})`);
  return value;
}

/** Loads and checks one version folder; every problem names the file and the field. */
export function loadPromptVersion(dir: string): PromptVersionSpec {
  const folder = dir.split(/[\\/]/).filter(Boolean).pop() ?? dir;
  const manifestFile = join(dir, PROMPT_FILES.manifest);
  const manifest = readJson(manifestFile);
  if (typeof manifest !== 'object' || manifest === null || Array.isArray(manifest)) throw new PromptFileError(manifestFile, '(file)', 'must hold a JSON object');
  const fields = manifest as Record<string, unknown>;
  const id = requireText(manifestFile, 'id', fields.id, VERSION_ID);
  if (id !== folder) throw new PromptFileError(manifestFile, 'id', `must equal its folder name ${folder} (got ${id})`);
  const schemaName = requireText(manifestFile, 'schemaName', fields.schemaName, SCHEMA_NAME);
  const description = fields.description === undefined ? '' : requireText(manifestFile, 'description', fields.description);
  for (const key of Object.keys(fields)) {
    if (!['id', 'schemaName', 'description'].includes(key)) throw new PromptFileError(manifestFile, key, 'is not a manifest field (id, schemaName, description)');
  }

  const textFile = (name: string) => {
    const file = join(dir, name);
    if (!existsSync(file)) throw new PromptFileError(file, '(file)', 'is missing');
    const text = readText(file);
    if (text.trim() === '') throw new PromptFileError(file, '(file)', 'is empty');
    return { file, text };
  };
  const system = textFile(PROMPT_FILES.system);
  const user = textFile(PROMPT_FILES.user);
  for (const [, name] of user.text.matchAll(PLACEHOLDER)) {
    if (!(TEMPLATE_PLACEHOLDERS as readonly string[]).includes(name!)) {
      throw new PromptFileError(user.file, `{{${name}}}`, `is not a placeholder (known: ${TEMPLATE_PLACEHOLDERS.join(', ')})`);
    }
  }
  if (!user.text.includes('{{body}}')) throw new PromptFileError(user.file, '{{body}}', 'is required: the template must show the PR');

  const schemaFile = join(dir, PROMPT_FILES.schema);
  const schema = readJson(schemaFile);
  if (typeof schema !== 'object' || schema === null || Array.isArray(schema)) throw new PromptFileError(schemaFile, '(file)', 'must hold a JSON Schema object');
  // What is sent must be accepted by Groq's strict mode, and what comes back must fit the stored result.
  const problems = [...strictModeProblems(schema), ...resultShapeProblems(schema)];
  if (problems.length > 0) throw new PromptFileError(schemaFile, problems[0]!.split(':')[0]!, `${problems.join('; ')}`);
  let validate: ValidateFunction;
  try {
    validate = new Ajv({ allErrors: true, strict: true }).compile(schema);
  } catch (error) {
    throw new PromptFileError(schemaFile, '(schema)', `does not compile: ${(error as Error).message}`);
  }
  return { id, schemaName, description, system: system.text, userTemplate: user.text, schema: schema as JsonSchema, validate, dir };
}

/** The versions found in one `prompts/` folder, by id. */
export class PromptRegistry {
  private constructor(
    readonly dir: string,
    private readonly versions: ReadonlyMap<string, PromptVersionSpec>,
  ) {}

  /** Loads every sub-folder of `dir`; one malformed folder fails the whole load, naming the file and field. */
  static load(dir: string): PromptRegistry {
    if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new PromptFileError(dir, '(folder)', 'is not a folder of prompt versions');
    const versions = new Map<string, PromptVersionSpec>();
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      if (!entry.isDirectory()) continue;
      const version = loadPromptVersion(join(dir, entry.name));
      versions.set(version.id, version);
    }
    if (versions.size === 0) throw new PromptFileError(dir, '(folder)', 'holds no prompt version');
    return new PromptRegistry(dir, versions);
  }

  has(id: string): boolean {
    return this.versions.has(id);
  }

  ids(): string[] {
    return [...this.versions.keys()].sort();
  }

  /** The version, or an UnknownPromptVersionError naming it and the known ones. */
  get(id: string): PromptVersionSpec {
    const version = this.versions.get(id);
    if (!version) throw new UnknownPromptVersionError(id, this.ids());
    return version;
  }

  assertKnown(id: string): void {
    this.get(id);
  }
}

/**
 * The `prompts/` folder shipped with the code: the nearest one up from this file that holds a version, so
 * the same lookup works from the sources, from `dist/` and in the image (which copies `prompts/` beside `dist/`).
 */
export function findPromptsDir(from: string = import.meta.dirname): string {
  for (let dir = from; ; dir = dirname(dir)) {
    const candidate = join(dir, 'prompts');
    if (existsSync(candidate) && statSync(candidate).isDirectory() && readdirSync(candidate).some((name) => existsSync(join(candidate, name, PROMPT_FILES.manifest)))) {
      return candidate;
    }
    if (dirname(dir) === dir) throw new PromptFileError(join(from, 'prompts'), '(folder)', 'was not found in this folder or any above it');
  }
}

const loaded = new Map<string, PromptRegistry>();

/**
 * The registry of one folder, loaded once per process: a service's or the CLI's is the folder its validated
 * PROMPTS_DIR names (see `promptRegistryFrom` in libs/batching); unset, the shipped folder.
 */
export function promptRegistry(dir: string = findPromptsDir()): PromptRegistry {
  let registry = loaded.get(dir);
  if (!registry) {
    registry = PromptRegistry.load(dir);
    loaded.set(dir, registry);
  }
  return registry;
}
