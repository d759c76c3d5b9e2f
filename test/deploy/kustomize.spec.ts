import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { loadServiceConfig, type ServiceConfig, type ServiceDefinition, serviceEnvVariables, topicName } from '#platform';
// Each model from its own module: the packages' indexes would load every kind's validator.
import { type IScaledObject, ScaledObject } from '@kubernetes-models/keda/keda.sh/v1alpha1/ScaledObject';
import { PATH_METADATA } from '@nestjs/common/constants.js';
import { Deployment, type IDeployment } from 'kubernetes-models/apps/v1/Deployment';
import { type IPodDisruptionBudget, PodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget';
import { ConfigMap, type IConfigMap } from 'kubernetes-models/v1/ConfigMap';
import type { IContainer, IProbe } from 'kubernetes-models/v1';
import { type ISecret, Secret } from 'kubernetes-models/v1/Secret';
import { type IService, Service } from 'kubernetes-models/v1/Service';
import ts from 'typescript';
import { parse, parseAllDocuments } from 'yaml';
import type { z } from 'zod';
import { batchSubmitterService } from '../../apps/batch-submitter/src/batch-submitter.definition.js';
import { pollerDefinition } from '../../apps/poller/src/poller.definition.js';
import { resultWriterService } from '../../apps/result-writer/src/result-writer.definition.js';
import { retryServiceDefinition } from '../../apps/retry-service/src/retry-service.definition.js';
import { HealthController } from '../../libs/platform/src/health/health.controller.js';

/**
 * No cluster runs here, so deploy/kustomize is rendered as kubectl's Kustomize would (the files its kustomization
 * lists, nothing else; compared with `kubectl kustomize` where kubectl is installed) and every manifest is validated
 * against the Kubernetes and KEDA schemas (kubernetes-models, @kubernetes-models/keda). Then each service's Deployment
 * is checked against the code that will run in it: the variables it sets are ones that service reads, and they boot
 * its configuration; probes, ports, consumer groups and topics are the ones the code uses.
 */
const root = resolve(import.meta.dirname, '../..');
const folder = resolve(root, 'deploy/kustomize');
const SECRET_EXAMPLE = 'secret.example.yaml';

const DEFINITIONS: Array<ServiceDefinition<z.ZodObject>> = [batchSubmitterService, pollerDefinition, retryServiceDefinition, resultWriterService] as never;
/** The poller's work is the open provider batches, not its consumer lag: it scales on a Prometheus metric. */
const SCALED_ON_BATCHES_IN_FLIGHT = new Set(['poller']);
const BATCHES_IN_FLIGHT_METRIC = 'cascade_batches_in_flight';
/** Values that must come from the Secret, never a ConfigMap or a literal (the URLs carry passwords). */
const SECRET_VARIABLE = /API_KEY$|TOKEN$|PASSWORD|SECRET|^DATABASE_URL$|^REDIS_URL$/;

interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: { name: string; labels?: Record<string, string> };
}

type ValidatingModel = new (data: never) => { validate(): void };
/**
 * Each kind the deployment may hold: the model whose JSON Schema validates it, and the TypeScript interface the
 * package generates from the same schema (module, name), which also knows every field's name.
 */
const KINDS: Record<string, { model: ValidatingModel; type: [string, string] }> = {
  'v1/ConfigMap': { model: ConfigMap, type: ['kubernetes-models/v1/ConfigMap', 'IConfigMap'] },
  'v1/Secret': { model: Secret, type: ['kubernetes-models/v1/Secret', 'ISecret'] },
  'v1/Service': { model: Service, type: ['kubernetes-models/v1/Service', 'IService'] },
  'apps/v1/Deployment': { model: Deployment, type: ['kubernetes-models/apps/v1/Deployment', 'IDeployment'] },
  'policy/v1/PodDisruptionBudget': { model: PodDisruptionBudget, type: ['kubernetes-models/policy/v1/PodDisruptionBudget', 'IPodDisruptionBudget'] },
  'keda.sh/v1alpha1/ScaledObject': { model: ScaledObject, type: ['@kubernetes-models/keda/keda.sh/v1alpha1/ScaledObject', 'IScaledObject'] },
};

const describeManifest = (manifest: Manifest) => `${manifest.kind} ${manifest.metadata?.name}`;

function kindOf(manifest: Manifest) {
  const kind = KINDS[`${manifest.apiVersion}/${manifest.kind}`];
  if (!kind) throw new Error(`${describeManifest(manifest)}: no schema for ${manifest.apiVersion}/${manifest.kind}`);
  return kind;
}

/** The JSON Schema: types, formats, required fields, enums. */
function validate(manifest: Manifest): void {
  try {
    new (kindOf(manifest).model)(manifest as never).validate();
  } catch (error) {
    throw new Error(`${describeManifest(manifest)}: ${(error as Error).message}`, { cause: error });
  }
}

/**
 * What the JSON Schemas let through (they allow any extra property): a misspelt field, which the API server
 * would refuse or drop. Each manifest becomes an object literal checked with `satisfies` against its kind's
 * interface, so TypeScript names every field the schema does not know. Returns one line per problem.
 */
function unknownFields(manifests: Manifest[]): string[] {
  const file = resolve(import.meta.dirname, '__manifests__.ts');
  const imports = [...new Set(manifests.map((m) => kindOf(m).type.join('#')))].map((entry) => {
    const [module, name] = entry.split('#');
    return `import type { ${name} } from '${module}';`;
  });
  // One manifest a line, so a problem's line says which manifest it is in.
  const text = [...imports, ...manifests.map((m, i) => `export const m${i} = ${JSON.stringify(m)} satisfies ${kindOf(m).type[1]};`)].join('\n');
  const options: ts.CompilerOptions = {
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    strict: true,
    noEmit: true,
    skipLibCheck: true,
    types: [],
    lib: ['lib.es5.d.ts'],
  };
  const host = ts.createCompilerHost(options);
  const { getSourceFile, fileExists, readFile } = host;
  host.getSourceFile = (name, language, ...rest) => (name === file ? ts.createSourceFile(name, text, language) : getSourceFile.call(host, name, language, ...rest));
  host.fileExists = (name) => name === file || fileExists.call(host, name);
  host.readFile = (name) => (name === file ? text : readFile.call(host, name));
  const program = ts.createProgram([file], options, host);
  const source = program.getSourceFile(file)!;
  return [...program.getSyntacticDiagnostics(source), ...program.getSemanticDiagnostics(source)].map((diagnostic) => {
    const line = diagnostic.start === undefined ? -1 : source.getLineAndCharacterOfPosition(diagnostic.start).line - imports.length;
    const where = manifests[line] ? describeManifest(manifests[line]) : '(imports)';
    return `${where}: ${ts.flattenDiagnosticMessageText(diagnostic.messageText, ' ')}`;
  });
}

function readManifests(file: string): Manifest[] {
  return parseAllDocuments(readFileSync(resolve(folder, file), 'utf8')).map((document) => {
    if (document.errors.length > 0) throw new Error(`${file}: ${document.errors[0]!.message}`);
    return document.toJSON() as Manifest;
  });
}

/** kubectl's own Kustomize, where the machine has kubectl (this machine kind's image does; CI installs none). */
function kubectlKustomize(): Manifest[] | null {
  const run = spawnSync('kubectl', ['kustomize', folder], { encoding: 'utf8' });
  if (run.error) return null;
  if (run.status !== 0) throw new Error(`kubectl kustomize: ${run.stderr}`);
  return parseAllDocuments(run.stdout).map((document) => document.toJSON() as Manifest);
}
const byKindAndName = (a: Manifest, b: Manifest) => `${a.kind}/${a.metadata.name}`.localeCompare(`${b.kind}/${b.metadata.name}`);

const kustomization = parse(readFileSync(resolve(folder, 'kustomization.yaml'), 'utf8')) as { resources: string[] };
const rendered = kustomization.resources.flatMap(readManifests);
const secretExample = readManifests(SECRET_EXAMPLE)[0] as ISecret & Manifest;
const secretValues = secretExample.stringData ?? {};

function find<T>(kind: string, name: string): T & Manifest {
  const found = rendered.filter((m) => m.kind === kind && m.metadata.name === name);
  if (found.length !== 1) throw new Error(`expected one ${kind} ${name}, found ${found.length}`);
  return found[0] as T & Manifest;
}

/** The variables the image's start command reads itself (the Dockerfile's CMD: which app, V8's heap). */
function imageVariables(): string[] {
  const command = readFileSync(resolve(root, 'Dockerfile'), 'utf8').split('\n').filter((line) => line.startsWith('CMD ')).at(-1) ?? '';
  return [...new Set([...command.matchAll(/\$\{([A-Z_]+)/g)].map((match) => match[1]!))].sort();
}

interface ContainerEnvironment {
  /** Every variable the container gets, with the value it boots with (Secret keys: the example's placeholders). */
  values: Record<string, string>;
  /** Variable → Secret key, for those read from the Secret. */
  fromSecret: Record<string, string>;
  /** Variable → where a value written in the manifests sits (a ConfigMap or the Deployment). */
  literal: Record<string, string>;
}

function environmentOf(container: IContainer): ContainerEnvironment {
  const environment: ContainerEnvironment = { values: {}, fromSecret: {}, literal: {} };
  for (const source of container.envFrom ?? []) {
    if (!source.configMapRef) throw new Error(`${container.name}: envFrom other than a ConfigMap hides which variables are set`);
    const configMap = find<IConfigMap>('ConfigMap', source.configMapRef.name!);
    for (const [name, value] of Object.entries(configMap.data ?? {})) {
      environment.values[name] = value;
      environment.literal[name] = `ConfigMap ${configMap.metadata.name}`;
    }
  }
  for (const variable of container.env ?? []) {
    const secretRef = variable.valueFrom?.secretKeyRef;
    if (secretRef) {
      if (secretRef.name !== secretExample.metadata.name) throw new Error(`${container.name}: ${variable.name} reads Secret ${secretRef.name}`);
      environment.fromSecret[variable.name] = secretRef.key;
      environment.values[variable.name] = secretValues[secretRef.key] ?? '';
    } else if (variable.value !== undefined) {
      environment.values[variable.name] = variable.value;
      environment.literal[variable.name] = `Deployment ${container.name}`;
    } else {
      throw new Error(`${container.name}: ${variable.name} comes from neither a value nor the Secret`);
    }
  }
  return environment;
}

function theContainer(deployment: IDeployment): IContainer {
  const containers = deployment.spec!.template.spec!.containers;
  expect(containers).toHaveLength(1);
  return containers[0]!;
}

/** `/health/live` and `/health/ready`, as the controller declares them. */
function healthPath(route: 'live' | 'ready'): string {
  const prefix = Reflect.getMetadata(PATH_METADATA, HealthController) as string;
  const path = Reflect.getMetadata(PATH_METADATA, HealthController.prototype[route]) as string;
  return `/${prefix}/${path}`;
}

/** `300m` → 0.3 cores, `1` → 1; `448Mi` → bytes. Only the units these manifests use. */
function quantity(value: string | number | undefined): number {
  const match = /^(\d+(?:\.\d+)?)(m|Mi|Gi)?$/.exec(String(value));
  if (!match) throw new Error(`unreadable quantity ${value}`);
  const scale = { m: 1e-3, Mi: 2 ** 20, Gi: 2 ** 30 }[match[2] as 'm' | 'Mi' | 'Gi'] ?? 1;
  return Number(match[1]) * scale;
}

const podLabelsOf = (deployment: IDeployment) => deployment.spec!.template.metadata!.labels!;
const selects = (selector: Record<string, string> | undefined, labels: Record<string, string>) =>
  !!selector && Object.keys(selector).length > 0 && Object.entries(selector).every(([key, value]) => labels[key] === value);

describe('deploy/kustomize', () => {
  it('lists every manifest of the folder but the Secret example, with nothing the rendering here would skip', () => {
    expect(Object.keys(kustomization).sort()).toEqual(['apiVersion', 'kind', 'resources']);
    const files = readdirSync(folder).filter((file) => /\.ya?ml$/.test(file) && file !== 'kustomization.yaml');
    expect([...kustomization.resources].sort()).toEqual(files.filter((file) => file !== SECRET_EXAMPLE).sort());
  });

  const kubectlRendered = kubectlKustomize();
  (kubectlRendered ? it : it.skip)('renders as kubectl kustomize does', () => {
    expect([...kubectlRendered!].sort(byKindAndName)).toEqual([...rendered].sort(byKindAndName));
  });

  it('validates every manifest, and the Secret example, against the Kubernetes and KEDA schemas', () => {
    expect(rendered.length).toBeGreaterThanOrEqual(2 + 4 * 4);
    for (const manifest of [...rendered, secretExample]) expect(() => validate(manifest)).not.toThrow();
  });

  it('would catch a manifest off the schemas', () => {
    const deployment = structuredClone(find<IDeployment>('Deployment', 'poller'));
    (theContainer(deployment).ports![0]!.containerPort as unknown) = '8080';
    expect(() => validate(deployment)).toThrow(/containerPort must be integer/);
    const scaled = structuredClone(find<IScaledObject>('ScaledObject', 'batch-submitter'));
    (scaled.spec!.triggers[0]!.metadata as Record<string, unknown>).lagThreshold = 2000;
    expect(() => validate(scaled)).toThrow(/lagThreshold must be string/);
    expect(() => validate({ apiVersion: 'apps/v1', kind: 'StatefulSet', metadata: { name: 'x' } })).toThrow(/no schema/);
  });

  it('names no field the schemas do not know, in any manifest', () => {
    const misspelt = structuredClone(find<IDeployment>('Deployment', 'poller'));
    Object.assign(theContainer(misspelt), { readinesProbe: {} });
    const scaled = structuredClone(find<IScaledObject>('ScaledObject', 'poller'));
    Object.assign(scaled.spec!, { fallbak: {} });
    // The misspelt copies prove the check sees such fields; the real manifests must have none.
    expect(unknownFields([...rendered, secretExample, misspelt, scaled])).toEqual([
      expect.stringMatching(/^Deployment poller: .*'"readinesProbe"' does not exist in type 'IContainer'/),
      expect.stringMatching(/^ScaledObject poller: .*'"fallbak"' does not exist in type/),
    ]);
  });

  it('has exactly the four services, all from the one image', () => {
    const deployments = rendered.filter((m) => m.kind === 'Deployment') as Array<IDeployment & Manifest>;
    expect(deployments.map((d) => d.metadata.name).sort()).toEqual(DEFINITIONS.map((d) => d.identity.name).sort());
    expect(new Set(deployments.map((d) => theContainer(d).image)).size).toBe(1);
  });

  it('keeps only placeholders in the Secret example, which is never applied, and uses each of its keys', () => {
    expect(secretExample.kind).toBe('Secret');
    expect(secretExample.data).toBeUndefined();
    for (const [key, value] of Object.entries(secretValues)) expect([key, value]).toEqual([key, expect.stringContaining('REPLACE_ME')]);
    expect(rendered.filter((m) => m.kind === 'Secret')).toEqual([]);
    const used = new Set(DEFINITIONS.flatMap((d) => Object.values(environmentOf(theContainer(find<IDeployment>('Deployment', d.identity.name))).fromSecret)));
    expect([...used].sort()).toEqual(Object.keys(secretValues).sort());
  });

  describe.each(DEFINITIONS.map((definition) => [definition.identity.name, definition] as const))('%s', (name, definition) => {
    const deployment = find<IDeployment>('Deployment', name);
    const container = theContainer(deployment);
    const environment = environmentOf(container);
    const bootConfig = (): ServiceConfig => loadServiceConfig(definition.identity, definition.env, environment.values);

    it('runs this service of the image', () => {
      expect(environment.values.SERVICE).toBe(name);
      // The image starts dist/apps/<SERVICE>/src/main.js.
      expect(() => readFileSync(resolve(root, 'apps', name, 'src/main.ts'))).not.toThrow();
    });

    it('sets only variables this service reads, or the image does', () => {
      const known = new Set([...serviceEnvVariables(definition.env), ...imageVariables()]);
      expect(imageVariables()).toEqual(['NODE_HEAP_MB', 'SERVICE']);
      expect(Object.keys(environment.values).filter((variable) => !known.has(variable)).sort()).toEqual([]);
    });

    it('boots its configuration from the ConfigMaps and the Secret, off loopback and so with OPS_TOKEN', () => {
      const config = bootConfig();
      expect(config.http.loopback).toBe(false);
      expect(environment.fromSecret.OPS_TOKEN).toBe('OPS_TOKEN');
      expect(environment.fromSecret.DATABASE_URL).toBe('DATABASE_URL');
      const opsPort = container.ports?.find((port) => port.name === 'ops');
      expect(opsPort?.containerPort).toBe(config.http.port);
    });

    it('takes every secret from the Secret, never from a ConfigMap or a literal', () => {
      expect(Object.keys(environment.literal).filter((variable) => SECRET_VARIABLE.test(variable))).toEqual([]);
      for (const variable of Object.keys(environment.fromSecret)) expect(variable).toMatch(SECRET_VARIABLE);
    });

    it('is live on /health/live and ready on /health/ready, on the ops port', () => {
      const probe = (p: IProbe | undefined) => [p?.httpGet?.path, p?.httpGet?.port];
      expect(probe(container.startupProbe)).toEqual([healthPath('live'), 'ops']);
      expect(probe(container.livenessProbe)).toEqual([healthPath('live'), 'ops']);
      expect(probe(container.readinessProbe)).toEqual([healthPath('ready'), 'ops']);
      // The ready check gives up on each dependency after 3 s: the probe must wait longer.
      expect(container.readinessProbe!.timeoutSeconds).toBeGreaterThan(3);
      // Past the service's own 30 s shutdown deadline.
      expect(deployment.spec!.template.spec!.terminationGracePeriodSeconds).toBeGreaterThan(30);
    });

    it('requests CPU and memory and limits them no lower', () => {
      const { requests, limits } = container.resources!;
      for (const resource of ['cpu', 'memory']) {
        expect(quantity(requests?.[resource])).toBeGreaterThan(0);
        expect(quantity(limits?.[resource])).toBeGreaterThanOrEqual(quantity(requests?.[resource]));
      }
    });

    it('has a Service on the ops port, scraped by Prometheus, and a disruption budget that lets a drain proceed', () => {
      const labels = podLabelsOf(deployment);
      expect(selects(deployment.spec!.selector.matchLabels, labels)).toBe(true);
      const service = find<IService>('Service', name);
      expect(selects(service.spec!.selector, labels)).toBe(true);
      expect(service.spec!.ports!.map((port) => port.targetPort)).toEqual(['ops']);
      expect(deployment.spec!.template.metadata!.annotations?.['prometheus.io/path']).toBe('/metrics');
      expect(Number(deployment.spec!.template.metadata!.annotations?.['prometheus.io/port'])).toBe(bootConfig().http.port);
      const budget = find<IPodDisruptionBudget>('PodDisruptionBudget', name);
      expect(selects(budget.spec!.selector?.matchLabels, labels)).toBe(true);
      expect(budget.spec!.maxUnavailable).toBe(1);
    });

    it('scales its Deployment with KEDA, never to zero and with room above the minimum', () => {
      const scaled = find<IScaledObject>('ScaledObject', name);
      expect(scaled.spec!.scaleTargetRef.name).toBe(name);
      // The ScaledObject owns the count: a `replicas` in the Deployment would reset it on every apply.
      expect(deployment.spec!.replicas).toBeUndefined();
      expect(scaled.spec!.minReplicaCount).toBeGreaterThanOrEqual(1);
      expect(scaled.spec!.maxReplicaCount).toBeGreaterThan(scaled.spec!.minReplicaCount!);
    });

    if (SCALED_ON_BATCHES_IN_FLIGHT.has(name)) {
      it(`scales on ${BATCHES_IN_FLIGHT_METRIC} from Prometheus`, () => {
        const triggers = find<IScaledObject>('ScaledObject', name).spec!.triggers;
        expect(triggers.map((trigger) => trigger.type)).toEqual(['prometheus']);
        const metadata = triggers[0]!.metadata as Record<string, string>;
        expect(metadata.query).toContain(BATCHES_IN_FLIGHT_METRIC);
        expect(Number(metadata.threshold)).toBeGreaterThan(0);
        expect(metadata.serverAddress).toMatch(/^https?:\/\//);
      });
    } else {
      it("scales on its consumer group's lag on each topic it reads, to no more replicas than partitions", () => {
        const config = bootConfig();
        const scaled = find<IScaledObject>('ScaledObject', name);
        const triggers = scaled.spec!.triggers.map((trigger): Record<string, string> => ({ type: trigger.type, ...(trigger.metadata as Record<string, string>) }));
        const topics = definition.consumes.map((topic) => topicName(topic, config.kafka.topicPrefix));
        expect(triggers.map((trigger) => trigger.topic).sort()).toEqual([...topics].sort());
        for (const trigger of triggers) {
          expect(trigger).toMatchObject({
            type: 'kafka',
            bootstrapServers: config.kafka.brokers.join(','),
            consumerGroup: config.kafka.groupId,
            // The services subscribe from the beginning: a new group's backlog is everything.
            offsetResetPolicy: 'earliest',
            allowIdleConsumers: 'false',
          });
          expect(Number(trigger.lagThreshold)).toBeGreaterThan(0);
        }
        // A replica beyond the partitions of the largest topic it reads would be given none.
        const partitions = definition.consumes.map((topic) => config.kafka.topicPartitions[topic] ?? config.kafka.partitions);
        expect(scaled.spec!.maxReplicaCount).toBeLessThanOrEqual(Math.max(...partitions));
      });
    }
  });
});
