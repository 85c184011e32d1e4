import { createHash } from 'node:crypto';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler';
import { Job } from 'kubernetes-models/batch/v1/Job';
import { Role } from 'kubernetes-models/rbac.authorization.k8s.io/v1/Role';
import { RoleBinding } from 'kubernetes-models/rbac.authorization.k8s.io/v1/RoleBinding';
import { ConfigMap } from 'kubernetes-models/v1/ConfigMap';
import type { IContainer } from 'kubernetes-models/v1/Container';
import type { IEnvVar } from 'kubernetes-models/v1/EnvVar';
import { Secret } from 'kubernetes-models/v1/Secret';
import { Service } from 'kubernetes-models/v1/Service';
import { ServiceAccount } from 'kubernetes-models/v1/ServiceAccount';
import type { IToleration } from 'kubernetes-models/v1/Toleration';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  chartDir,
  helm,
  KUBE_VERSION,
  objectsOf,
  render,
  templateArgs,
  validate,
  type Manifest,
  type RenderOptions,
} from './manifests.js';

const here = (file: string) => fileURLToPath(new URL(file, import.meta.url));
const productionValues = here('production-values.yaml');

/** The platform conventions the chart implements: ports, gRPC services and credentials. */
const servicePorts: Record<string, number[]> = {
  collector: [9464, 4317, 4318],
  embedder: [9464, 50051],
  clusterer: [9464, 50051],
  'dataset-builder': [9464, 50051],
  'trainer-orchestrator': [9464, 50051],
  'model-registry': [9464, 50051],
  'inference-gateway': [9464, 8080],
};
const services = Object.keys(servicePorts);
const grpcServices = services.filter((s) => servicePorts[s]?.includes(50051));
/** The variables that carry each gRPC service's address to the others. */
const addressVariables: Record<string, string> = {
  embedder: 'UNDERSTUDY_EMBEDDER_ADDRESS',
  clusterer: 'UNDERSTUDY_CLUSTERER_ADDRESS',
  'dataset-builder': 'UNDERSTUDY_DATASET_BUILDER_ADDRESS',
  'trainer-orchestrator': 'UNDERSTUDY_TRAINER_ORCHESTRATOR_ADDRESS',
  'model-registry': 'UNDERSTUDY_REGISTRY_ADDRESS',
};
const usesDatabase = ['clusterer', 'dataset-builder', 'trainer-orchestrator', 'model-registry'];
/** trainer-orchestrator hands the S3 keys to its Jobs by Secret name and never holds them. */
const holdsS3Keys = ['collector', 'dataset-builder'];
/** The services that encrypt call content (collector) or read it. */
const readsContent = ['collector', 'embedder', 'dataset-builder'];
const contentKeysDir = '/etc/understudy/content-keys';
/** The services that call model-registry, with a token of their own (and its CA under TLS). */
const callsRegistry = ['dataset-builder', 'trainer-orchestrator', 'inference-gateway'];
const redactionRulesFile = '/etc/understudy/redaction/redaction-rules.json';
/** The collector's numeric settings, each a whole number of its unit. */
const collectorNumbers = [
  'UNDERSTUDY_COLLECTOR_TENANT_REQUESTS_PER_SECOND',
  'UNDERSTUDY_COLLECTOR_TENANT_BYTES_PER_SECOND',
  'UNDERSTUDY_COLLECTOR_MAX_BODY_BYTES',
  'UNDERSTUDY_COLLECTOR_MAX_IN_FLIGHT_BYTES',
  'UNDERSTUDY_COLLECTOR_PUBLISH_TIMEOUT_MS',
  'UNDERSTUDY_COLLECTOR_JOIN_TIMEOUT_MS',
  'UNDERSTUDY_COLLECTOR_DEDUP_WINDOW_MS',
  'UNDERSTUDY_COLLECTOR_JOIN_MAX_HELD_BYTES',
  'UNDERSTUDY_COLLECTOR_JOIN_TICK_MS',
  'UNDERSTUDY_ARCHIVE_MAX_CALLS',
  'UNDERSTUDY_ARCHIVE_MAX_BYTES',
  'UNDERSTUDY_ARCHIVE_MAX_AGE_MS',
];

interface Scenario {
  readonly title: string;
  readonly valuesFiles: readonly string[];
  readonly release: string;
  readonly namespace: string;
  readonly trainingNamespace: string;
  /** Prefix of every object's name. */
  readonly prefix: string;
  /** Whether model-registry serves TLS (its liveness is then on /healthz). */
  readonly registryTls: boolean;
}

const defaults: Scenario = {
  title: 'default values',
  valuesFiles: [],
  release: 'understudy',
  namespace: 'understudy',
  trainingNamespace: 'understudy',
  prefix: 'understudy',
  registryTls: false,
};
const production: Scenario = {
  title: 'production values',
  valuesFiles: [productionValues],
  release: 'prod',
  namespace: 'agents',
  trainingNamespace: 'understudy-training',
  prefix: 'prod-understudy',
  registryTls: true,
};

/**
 * The Job template file as trainer-orchestrator parses it, strictly: its zod schema in
 * services/trainer-orchestrator/src/drivers/kubernetes/job-template.ts (services are out of the
 * tests' reach, so the shape is repeated here).
 */
interface JobTemplate {
  gpuCount: number;
  nodeSelector: Record<string, string>;
  tolerations: IToleration[];
  queueName?: string;
  resources: { requests: Record<string, string>; limits: Record<string, string> };
  backoffLimit: number;
  activeDeadlineSeconds: number;
  ttlSecondsAfterFinished: number;
  s3CredentialsSecret: string;
  serviceAccountName?: string;
  priorityClassName?: string;
  runAsUser: number;
  cacheSizeLimit: string;
  imagePullPolicy: NonNullable<IContainer['imagePullPolicy']>;
}
const jobTemplateKeys = [
  'gpuCount',
  'nodeSelector',
  'tolerations',
  'queueName',
  'resources',
  'backoffLimit',
  'activeDeadlineSeconds',
  'ttlSecondsAfterFinished',
  's3CredentialsSecret',
  'serviceAccountName',
  'priorityClassName',
  'runAsUser',
  'cacheSizeLimit',
  'imagePullPolicy',
];

function jobTemplate(manifests: readonly Manifest[], scenario: Scenario): JobTemplate {
  const configMap = objectsOf(manifests, ConfigMap).find(
    (c) => c.metadata?.name === `${scenario.prefix}-training-job`,
  );
  return JSON.parse(configMap?.data?.['job-template.json'] ?? 'null') as JobTemplate;
}

/** A training Job built from the template as trainer-orchestrator's buildJob does. */
function trainingJob(template: JobTemplate, namespace: string, image: string): Job {
  const gpus = template.gpuCount > 0 ? { 'nvidia.com/gpu': String(template.gpuCount) } : {};
  const secretEnv = (name: string): IEnvVar => ({
    name,
    valueFrom: { secretKeyRef: { name: template.s3CredentialsSecret, key: name } },
  });
  const labels = {
    'understudy.dev/run-id': 'run-1',
    ...(template.queueName !== undefined && { 'kueue.x-k8s.io/queue-name': template.queueName }),
  };
  return new Job({
    metadata: { name: 'trainer-run-1', namespace, labels },
    spec: {
      backoffLimit: template.backoffLimit,
      activeDeadlineSeconds: template.activeDeadlineSeconds,
      ttlSecondsAfterFinished: template.ttlSecondsAfterFinished,
      ...(template.queueName !== undefined && { suspend: true }),
      template: {
        metadata: { labels },
        spec: {
          restartPolicy: 'Never',
          automountServiceAccountToken: false,
          ...(template.serviceAccountName !== undefined && {
            serviceAccountName: template.serviceAccountName,
          }),
          ...(template.priorityClassName !== undefined && {
            priorityClassName: template.priorityClassName,
          }),
          nodeSelector: template.nodeSelector,
          tolerations: template.tolerations,
          securityContext: {
            runAsNonRoot: true,
            runAsUser: template.runAsUser,
            seccompProfile: { type: 'RuntimeDefault' },
          },
          containers: [
            {
              name: 'trainer',
              image,
              imagePullPolicy: template.imagePullPolicy,
              command: ['python', '-m', 'understudy_trainer'],
              args: ['train', '--dataset', 's3://understudy/datasets/d1/manifest.json'],
              env: [secretEnv('UNDERSTUDY_S3_ACCESS_KEY'), secretEnv('UNDERSTUDY_S3_SECRET_KEY')],
              resources: {
                requests: { ...template.resources.requests, ...gpus },
                limits: { ...template.resources.limits, ...gpus },
              },
              securityContext: { readOnlyRootFilesystem: true, allowPrivilegeEscalation: false },
              volumeMounts: [{ name: 'hf-cache', mountPath: '/var/cache/huggingface' }],
            },
          ],
          volumes: [{ name: 'hf-cache', emptyDir: { sizeLimit: template.cacheSizeLimit } }],
        },
      },
    },
  });
}

function containerOf(deployment: Deployment) {
  const container = deployment.spec?.template.spec?.containers[0];
  if (container === undefined) throw new Error(`${deployment.metadata?.name} has no container`);
  return container;
}

function configOf(manifests: readonly Manifest[], name: string): Record<string, string> {
  return objectsOf(manifests, ConfigMap).find((c) => c.metadata?.name === name)?.data ?? {};
}

function componentOf(object: { metadata?: { labels?: Record<string, string> } }): string {
  return object.metadata?.labels?.['app.kubernetes.io/component'] ?? '';
}

describe('helm lint --strict', () => {
  it.each([defaults, production])('passes with $title', async ({ valuesFiles }) => {
    const args = ['lint', chartDir, '--strict', '--kube-version', KUBE_VERSION];
    const result = await helm([...args, ...valuesFiles.flatMap((f) => ['--values', f])]);
    expect(result.stdout + result.stderr).toContain('0 chart(s) failed');
    expect(result.code).toBe(0);
  });
});

describe.each([defaults, production])('helm template with $title', (scenario) => {
  let manifests: Manifest[] = [];
  beforeAll(async () => {
    manifests = await render(scenario);
  });

  const deployments = () => objectsOf(manifests, Deployment);
  const named = (component: string) => `${scenario.prefix}-${component}`;

  it('renders only objects valid against the Kubernetes schemas', () => {
    expect(manifests.length).toBeGreaterThan(30);
    const failures = manifests.flatMap((manifest) => {
      try {
        validate(manifest);
        return [];
      } catch (error) {
        return [`${manifest.kind}/${manifest.metadata.name}: ${String(error)}`];
      }
    });
    expect(failures).toEqual([]);
  });

  it('renders one Deployment, Service, ServiceAccount and ConfigMap per service', () => {
    const names = (kind: string) =>
      manifests.filter((m) => m.kind === kind).map((m) => m.metadata.name);
    const expected = services.map(named);
    expect(names('Deployment').sort()).toEqual([...expected].sort());
    expect(names('Service').sort()).toEqual([...expected].sort());
    expect(names('ServiceAccount')).toEqual(expect.arrayContaining(expected));
    expect(names('ConfigMap')).toEqual(expect.arrayContaining(expected));
    for (const manifest of manifests) expect(manifest.metadata.namespace).toBeTruthy();
  });

  it('runs every container as non-root on a read-only root filesystem without privileges', () => {
    for (const deployment of deployments()) {
      const pod = deployment.spec?.template.spec;
      const context = containerOf(deployment).securityContext;
      expect(pod?.securityContext?.runAsNonRoot).toBe(true);
      expect(pod?.securityContext?.runAsUser).toBeGreaterThan(0);
      expect(context?.runAsNonRoot).toBe(true);
      expect(context?.readOnlyRootFilesystem).toBe(true);
      expect(context?.allowPrivilegeEscalation).toBe(false);
      expect(context?.capabilities?.drop).toContain('ALL');
      expect(context?.seccompProfile?.type).toBe('RuntimeDefault');
      // The only writable place is an emptyDir at /tmp.
      const tmp = containerOf(deployment).volumeMounts?.find((m) => m.mountPath === '/tmp');
      const volume = pod?.volumes?.find((v) => v.name === tmp?.name);
      expect(volume?.emptyDir?.sizeLimit).toBeTruthy();
      expect(pod?.volumes?.some((v) => v.hostPath !== undefined)).toBe(false);
      // Only trainer-orchestrator holds a Kubernetes API token.
      const orchestrator = componentOf(deployment) === 'trainer-orchestrator';
      expect(pod?.automountServiceAccountToken).toBe(orchestrator);
    }
  });

  it('probes liveness and readiness on the ops port, plaintext gRPC liveness natively', () => {
    for (const deployment of deployments()) {
      const component = componentOf(deployment);
      const container = containerOf(deployment);
      expect(container.ports?.find((p) => p.name === 'metrics')?.containerPort).toBe(9464);
      expect(container.readinessProbe?.httpGet).toMatchObject({ path: '/readyz', port: 'metrics' });
      expect(container.startupProbe?.httpGet).toMatchObject({ path: '/healthz', port: 'metrics' });
      // The kubelet's gRPC probe cannot do TLS.
      const tls = component === 'model-registry' && scenario.registryTls;
      if (grpcServices.includes(component) && !tls) {
        expect(container.livenessProbe?.grpc?.port).toBe(50051);
      } else {
        expect(container.livenessProbe?.httpGet).toMatchObject({ path: '/healthz' });
      }
    }
  });

  it('gives stopping pods longer than their preStop pause and shutdown deadline', () => {
    for (const deployment of deployments()) {
      const pod = deployment.spec?.template.spec;
      const preStop = containerOf(deployment).lifecycle?.preStop?.sleep?.seconds ?? 0;
      const config = configOf(manifests, deployment.metadata?.name ?? '');
      const shutdown = Number(config['UNDERSTUDY_SHUTDOWN_TIMEOUT_MS']) / 1000;
      expect(shutdown).toBeGreaterThan(0);
      expect(pod?.terminationGracePeriodSeconds).toBeGreaterThan(preStop + shutdown);
    }
  });

  it("exposes the conventions' ports on each Service and its pods", () => {
    for (const service of objectsOf(manifests, Service)) {
      const ports = service.spec?.ports?.map((p) => p.port);
      expect(ports, service.metadata?.name).toEqual(servicePorts[componentOf(service)]);
    }
    for (const deployment of deployments()) {
      const ports = containerOf(deployment).ports?.map((p) => p.containerPort);
      expect(ports, deployment.metadata?.name).toEqual(servicePorts[componentOf(deployment)]);
    }
  });

  it('hands credentials only to the services that use them, always from Secrets', () => {
    for (const deployment of deployments()) {
      const component = componentOf(deployment);
      const env = containerOf(deployment).env ?? [];
      expect(env.every((variable) => variable.valueFrom?.secretKeyRef !== undefined)).toBe(true);
      const names = env.map((variable) => variable.name);
      expect(names.includes('UNDERSTUDY_DATABASE_URL')).toBe(usesDatabase.includes(component));
      expect(names.includes('UNDERSTUDY_S3_SECRET_KEY')).toBe(holdsS3Keys.includes(component));
      expect(names.includes('UNDERSTUDY_LLM_API_KEY')).toBe(component === 'inference-gateway');
      expect(names.includes('UNDERSTUDY_COLLECTOR_REDACTION_SECRET')).toBe(
        component === 'collector',
      );
    }
    for (const configMap of objectsOf(manifests, ConfigMap)) {
      for (const key of Object.keys(configMap.data ?? {})) {
        expect(key).not.toMatch(/PASSWORD|SECRET|API_KEY|ACCESS_KEY|DATABASE_URL/);
      }
    }
  });

  it('configures every service by the environment conventions', () => {
    for (const service of services) {
      const env = configOf(manifests, named(service));
      expect(env['UNDERSTUDY_OPS_PORT']).toBe('9464');
      expect(env['UNDERSTUDY_KAFKA_BROKERS']).toMatch(/^[^,\s]+:\d+(,[^,\s]+:\d+)*$/);
      if (grpcServices.includes(service)) expect(env['UNDERSTUDY_GRPC_PORT']).toBe('50051');
      // Every service finds every other gRPC service.
      for (const [peer, variable] of Object.entries(addressVariables)) {
        const address = `${named(peer)}.${scenario.namespace}.svc:50051`;
        expect(env[variable], `${service} ${variable}`).toBe(
          peer === service ? undefined : address,
        );
      }
    }
    expect(configOf(manifests, named('collector'))).toMatchObject({
      UNDERSTUDY_GRPC_PORT: '4317',
      UNDERSTUDY_HTTP_PORT: '4318',
    });
    expect(configOf(manifests, named('trainer-orchestrator'))).toMatchObject({
      UNDERSTUDY_EXECUTOR: 'kubernetes',
      UNDERSTUDY_TRAINING_NAMESPACE: scenario.trainingNamespace,
      UNDERSTUDY_JOB_TEMPLATE_FILE: '/etc/understudy/training/job-template.json',
    });
  });

  it('lets trainer-orchestrator manage Jobs and read pods in the training namespace only', () => {
    expect(manifests.some((m) => m.kind.startsWith('Cluster'))).toBe(false);
    const roles = objectsOf(manifests, Role);
    expect(roles).toHaveLength(1);
    expect(roles[0]?.metadata?.namespace).toBe(scenario.trainingNamespace);
    expect(roles[0]?.rules).toEqual([
      {
        apiGroups: ['batch'],
        resources: ['jobs'],
        verbs: ['create', 'get', 'list', 'watch', 'delete'],
      },
      { apiGroups: [''], resources: ['pods', 'pods/log'], verbs: ['get', 'list', 'watch'] },
    ]);
    const bindings = objectsOf(manifests, RoleBinding);
    expect(bindings).toHaveLength(1);
    expect(bindings[0]?.metadata?.namespace).toBe(scenario.trainingNamespace);
    expect(bindings[0]?.roleRef).toEqual({
      apiGroup: 'rbac.authorization.k8s.io',
      kind: 'Role',
      name: roles[0]?.metadata?.name,
    });
    expect(bindings[0]?.subjects).toEqual([
      {
        kind: 'ServiceAccount',
        name: named('trainer-orchestrator'),
        namespace: scenario.namespace,
      },
    ]);
  });

  it('gives the collector its object store, limits, join and archive settings', () => {
    for (const service of services) {
      const env = configOf(manifests, named(service));
      const storage = ['UNDERSTUDY_S3_ENDPOINT', 'UNDERSTUDY_S3_REGION', 'UNDERSTUDY_S3_BUCKET'];
      const usesS3 = ['collector', 'dataset-builder', 'trainer-orchestrator'].includes(service);
      for (const variable of storage) expect(env[variable] !== undefined, service).toBe(usesS3);
      for (const variable of collectorNumbers) {
        // Large byte counts must not reach the collector in exponent notation.
        if (service === 'collector') expect(env[variable], variable).toMatch(/^[1-9][0-9]*$/);
        else expect(env[variable], `${service} ${variable}`).toBeUndefined();
      }
    }
  });

  it('renders a Job template from which valid GPU training Jobs are built', () => {
    const template = jobTemplate(manifests, scenario);
    expect(jobTemplateKeys).toEqual(expect.arrayContaining(Object.keys(template)));
    expect(template.gpuCount).toBe(1);
    expect(template.tolerations).toContainEqual({
      key: 'nvidia.com/gpu',
      operator: 'Exists',
      effect: 'NoSchedule',
    });
    for (const quantities of Object.values(template.resources)) {
      for (const quantity of Object.values(quantities)) expect(typeof quantity).toBe('string');
    }
    const trainerAccount = objectsOf(manifests, ServiceAccount).find(
      (a) => a.metadata?.name === template.serviceAccountName,
    );
    expect(trainerAccount?.metadata?.namespace).toBe(scenario.trainingNamespace);
    expect(trainerAccount?.automountServiceAccountToken).toBe(false);
    const orchestrator = configOf(manifests, named('trainer-orchestrator'));
    const image = orchestrator['UNDERSTUDY_TRAINER_IMAGE'] ?? '';
    const job = trainingJob(template, scenario.trainingNamespace, image);
    expect(() => {
      job.validate();
    }).not.toThrow();
  });
});

describe('helm template with production values', () => {
  let manifests: Manifest[] = [];
  beforeAll(async () => {
    manifests = await render(production);
  });

  it('autoscales collector and inference-gateway instead of fixing their replicas', () => {
    const scaled = objectsOf(manifests, HorizontalPodAutoscaler).map(
      (h) => h.spec.scaleTargetRef.name,
    );
    expect(scaled.sort()).toEqual([
      'prod-understudy-collector',
      'prod-understudy-inference-gateway',
    ]);
    for (const deployment of objectsOf(manifests, Deployment)) {
      const name = deployment.metadata?.name ?? '';
      // serviceDefaults.replicaCount is 2; trainer-orchestrator overrides it with 1.
      const fixed = name === 'prod-understudy-trainer-orchestrator' ? 1 : 2;
      expect(deployment.spec?.replicas, name).toBe(scaled.includes(name) ? undefined : fixed);
    }
  });

  it('references the existing Secrets and creates none', () => {
    expect(objectsOf(manifests, Secret)).toEqual([]);
    const refs = new Set<string>();
    for (const deployment of objectsOf(manifests, Deployment)) {
      for (const variable of containerOf(deployment).env ?? []) {
        const ref = variable.valueFrom?.secretKeyRef;
        refs.add(`${variable.name}=${ref?.name ?? ''}/${ref?.key ?? ''}`);
      }
    }
    expect([...refs].sort()).toEqual([
      'UNDERSTUDY_COLLECTOR_REDACTION_SECRET=understudy-redaction/UNDERSTUDY_COLLECTOR_REDACTION_SECRET',
      'UNDERSTUDY_DATABASE_URL=understudy-postgres/database-url',
      'UNDERSTUDY_KAFKA_SASL_PASSWORD=understudy-kafka/sasl-password',
      'UNDERSTUDY_LLM_API_KEY=understudy-llm/UNDERSTUDY_LLM_API_KEY',
      'UNDERSTUDY_S3_ACCESS_KEY=understudy-s3/UNDERSTUDY_S3_ACCESS_KEY',
      'UNDERSTUDY_S3_SECRET_KEY=understudy-s3/UNDERSTUDY_S3_SECRET_KEY',
    ]);
    const gateway = objectsOf(manifests, Deployment).find(
      (d) => componentOf(d) === 'inference-gateway',
    );
    const volumes = gateway?.spec?.template.spec?.volumes ?? [];
    expect(volumes.find((v) => v.name === 'tenant-keys')?.secret?.secretName).toBe(
      'understudy-tenant-keys',
    );
    expect(configOf(manifests, 'prod-understudy-inference-gateway')).toMatchObject({
      UNDERSTUDY_TENANT_KEYS_FILE: '/etc/understudy/tenant-keys/tenant-keys.json',
    });
  });

  it('mounts the content keys read-only into the services that encrypt or read content', () => {
    for (const deployment of objectsOf(manifests, Deployment)) {
      const component = componentOf(deployment);
      const mount = containerOf(deployment).volumeMounts?.find((m) => m.name === 'content-keys');
      const volume = deployment.spec?.template.spec?.volumes?.find(
        (v) => v.name === 'content-keys',
      );
      const file = configOf(manifests, deployment.metadata?.name ?? '')[
        'UNDERSTUDY_CONTENT_KEYS_FILE'
      ];
      if (!readsContent.includes(component)) {
        expect([mount, volume, file], component).toEqual([undefined, undefined, undefined]);
        continue;
      }
      expect(mount, component).toEqual({
        name: 'content-keys',
        mountPath: contentKeysDir,
        readOnly: true,
      });
      expect(volume?.secret, component).toEqual({
        secretName: 'understudy-content-keys',
        defaultMode: 0o440,
        items: [{ key: 'content-keys.json', path: 'content-keys.json' }],
      });
      expect(file, component).toBe(`${contentKeysDir}/content-keys.json`);
    }
  });

  it('hands the collector its redaction rules as a read-only JSON file, restarting it on change', () => {
    const configMap = objectsOf(manifests, ConfigMap).find(
      (c) => c.metadata?.name === 'prod-understudy-collector-redaction',
    );
    expect(JSON.parse(configMap?.data?.['redaction-rules.json'] ?? 'null')).toEqual({
      patterns: [{ entity: 'EMPLOYEE_ID', regex: '\\bE-\\d{6}\\b' }],
      allow: ['support@example.com', { regex: '.*@example\\.org', flags: 'i' }],
      disable: ['IP_ADDRESS'],
    });
    for (const deployment of objectsOf(manifests, Deployment)) {
      const component = componentOf(deployment);
      const pod = deployment.spec?.template;
      const mount = containerOf(deployment).volumeMounts?.find((m) => m.name === 'redaction-rules');
      const volume = pod?.spec?.volumes?.find((v) => v.name === 'redaction-rules');
      const file = configOf(manifests, deployment.metadata?.name ?? '')[
        'UNDERSTUDY_COLLECTOR_REDACTION_RULES_FILE'
      ];
      if (component !== 'collector') {
        expect([mount, volume, file], component).toEqual([undefined, undefined, undefined]);
        continue;
      }
      expect(mount).toEqual({
        name: 'redaction-rules',
        mountPath: '/etc/understudy/redaction',
        readOnly: true,
      });
      expect(volume?.configMap?.name).toBe(configMap?.metadata?.name);
      expect(file).toBe(redactionRulesFile);
      expect(pod?.metadata?.annotations?.['checksum/redaction-rules']).toMatch(/^[0-9a-f]{64}$/);
    }
  });

  it('sets the collector limits, join and archive from values', () => {
    expect(configOf(manifests, 'prod-understudy-collector')).toMatchObject({
      UNDERSTUDY_S3_ENDPOINT: 'https://s3.eu-west-1.amazonaws.com',
      UNDERSTUDY_S3_BUCKET: 'understudy-artifacts',
      UNDERSTUDY_COLLECTOR_TENANT_REQUESTS_PER_SECOND: '500',
      UNDERSTUDY_COLLECTOR_TENANT_BYTES_PER_SECOND: '67108864',
      UNDERSTUDY_COLLECTOR_MAX_BODY_BYTES: '8388608',
      UNDERSTUDY_COLLECTOR_MAX_IN_FLIGHT_BYTES: '268435456',
      UNDERSTUDY_COLLECTOR_JOIN_TIMEOUT_MS: '60000',
      UNDERSTUDY_COLLECTOR_DEDUP_WINDOW_MS: '900000',
      UNDERSTUDY_COLLECTOR_JOIN_MAX_HELD_BYTES: '536870912',
      // Not in the production values: the defaults.
      UNDERSTUDY_COLLECTOR_PUBLISH_TIMEOUT_MS: '8000',
      UNDERSTUDY_ARCHIVE_MAX_CALLS: '20000',
    });
  });

  it('places training Jobs on H100 nodes through the Kueue queue', () => {
    const template = jobTemplate(manifests, production);
    expect(template).toMatchObject({
      nodeSelector: { 'nvidia.com/gpu.product': 'NVIDIA-H100-80GB-HBM3' },
      queueName: 'understudy-training',
      priorityClassName: 'training',
      s3CredentialsSecret: 'understudy-training-s3',
      resources: { requests: { cpu: '8', memory: '64Gi' }, limits: { memory: '64Gi' } },
    });
    expect(configOf(manifests, 'prod-understudy-trainer-orchestrator')).toMatchObject({
      UNDERSTUDY_TRAINER_IMAGE: 'registry.example.com/understudy/trainer:0.1.0-cuda12',
      UNDERSTUDY_BASE_MODEL: 'Qwen/Qwen2.5-1.5B-Instruct',
    });
  });

  it('pulls the service images from the configured registry', () => {
    for (const deployment of objectsOf(manifests, Deployment)) {
      expect(containerOf(deployment).image).toBe(
        `registry.example.com/understudy/${componentOf(deployment)}:0.1.0`,
      );
      expect(deployment.spec?.template.spec?.imagePullSecrets).toEqual([
        { name: 'registry-credentials' },
      ]);
    }
  });

  it('serves the registry over mutual TLS, its principals and tokens from your Secrets', () => {
    for (const deployment of objectsOf(manifests, Deployment)) {
      const component = componentOf(deployment);
      const config = configOf(manifests, deployment.metadata?.name ?? '');
      const volumes = deployment.spec?.template.spec?.volumes ?? [];
      const secretOf = (name: string) => volumes.find((v) => v.name === name)?.secret;
      const mounts = Object.fromEntries(
        (containerOf(deployment).volumeMounts ?? []).map((m) => [m.name, m.mountPath]),
      );
      const pem = (...files: string[]) => files.map((file) => ({ key: file, path: file }));
      if (component === 'model-registry') {
        expect(config).toMatchObject({
          UNDERSTUDY_REGISTRY_PRINCIPALS_FILE: '/etc/understudy/registry-access/principals.json',
          UNDERSTUDY_GRPC_TLS_CERT_FILE: '/etc/understudy/grpc-tls/tls.crt',
          UNDERSTUDY_GRPC_TLS_KEY_FILE: '/etc/understudy/grpc-tls/tls.key',
          UNDERSTUDY_GRPC_TLS_CLIENT_CA_FILE: '/etc/understudy/grpc-tls/ca.crt',
        });
        expect(config['UNDERSTUDY_REGISTRY_AUTH']).toBeUndefined();
        expect(secretOf('registry-access')).toEqual({
          secretName: 'understudy-registry-access',
          defaultMode: 0o440,
          items: [{ key: 'principals.json', path: 'principals.json' }],
        });
        expect(secretOf('grpc-tls')).toEqual({
          secretName: 'understudy-registry-tls',
          defaultMode: 0o440,
          items: pem('tls.crt', 'tls.key', 'ca.crt'),
        });
        expect(mounts).toMatchObject({
          'registry-access': '/etc/understudy/registry-access',
          'grpc-tls': '/etc/understudy/grpc-tls',
        });
      } else if (callsRegistry.includes(component)) {
        expect(config, component).toMatchObject({
          UNDERSTUDY_REGISTRY_TOKEN_FILE: '/etc/understudy/registry-access/token',
          UNDERSTUDY_REGISTRY_TLS_CA_FILE: '/etc/understudy/registry-tls/ca.crt',
          UNDERSTUDY_REGISTRY_TLS_CERT_FILE: '/etc/understudy/registry-client-tls/tls.crt',
          UNDERSTUDY_REGISTRY_TLS_KEY_FILE: '/etc/understudy/registry-client-tls/tls.key',
        });
        // Its own token, the registry's CA (never its key) and its own client certificate.
        expect(secretOf('registry-access'), component).toEqual({
          secretName: 'understudy-registry-access',
          defaultMode: 0o440,
          items: [{ key: `${component}-token`, path: 'token' }],
        });
        expect(secretOf('registry-tls'), component).toEqual({
          secretName: 'understudy-registry-tls',
          items: pem('ca.crt'),
        });
        expect(secretOf('registry-client-tls'), component).toEqual({
          secretName: `understudy-${component}-tls`,
          defaultMode: 0o440,
          items: pem('tls.crt', 'tls.key'),
        });
      } else {
        const registryKeys = Object.keys(config).filter((key) =>
          /REGISTRY_(TOKEN|TLS|PRINCIPALS|AUTH)|GRPC_TLS/.test(key),
        );
        expect(registryKeys, component).toEqual([]);
        expect(Object.keys(mounts).filter((name) => /registry|grpc-tls/.test(name))).toEqual([]);
      }
    }
  });

  it('renders a ServiceMonitor that Prometheus selects', () => {
    const monitor = manifests.find((m) => m.kind === 'ServiceMonitor');
    expect(monitor?.metadata).toMatchObject({ labels: { release: 'prometheus' } });
  });
});

describe('helm template with default values', () => {
  let manifests: Manifest[] = [];
  beforeAll(async () => {
    manifests = await render(defaults);
  });

  it('keeps credentials given as values in Secrets of its own', () => {
    const secrets = Object.fromEntries(
      objectsOf(manifests, Secret).map((s): [string, string[]] => [
        s.metadata?.name ?? '',
        Object.keys(s.data ?? {}),
      ]),
    );
    expect(secrets).toEqual({
      'understudy-s3': ['UNDERSTUDY_S3_ACCESS_KEY', 'UNDERSTUDY_S3_SECRET_KEY'],
      'understudy-database': ['UNDERSTUDY_DATABASE_URL'],
      'understudy-llm': ['UNDERSTUDY_LLM_API_KEY'],
      'understudy-redaction': ['UNDERSTUDY_COLLECTOR_REDACTION_SECRET'],
      'understudy-registry-access': [
        'dataset-builder-token',
        'inference-gateway-token',
        'principals.json',
        'trainer-orchestrator-token',
      ],
    });
    expect(jobTemplate(manifests, defaults).s3CredentialsSecret).toBe('understudy-s3');
  });

  it('leaves content unencrypted: no content keys mounted or named', () => {
    for (const deployment of objectsOf(manifests, Deployment)) {
      const volumes = deployment.spec?.template.spec?.volumes ?? [];
      expect(volumes.map((v) => v.name)).not.toContain('content-keys');
      const config = configOf(manifests, deployment.metadata?.name ?? '');
      expect(config['UNDERSTUDY_CONTENT_KEYS_FILE']).toBeUndefined();
    }
  });

  it('redacts with the built-in detectors only: no rules file mounted or named', () => {
    expect(manifests.map((m) => m.metadata.name)).not.toContain('understudy-collector-redaction');
    const collector = objectsOf(manifests, Deployment).find((d) => componentOf(d) === 'collector');
    const volumes = collector?.spec?.template.spec?.volumes ?? [];
    expect(volumes.map((v) => v.name)).not.toContain('redaction-rules');
    const config = configOf(manifests, 'understudy-collector');
    expect(config['UNDERSTUDY_COLLECTOR_REDACTION_RULES_FILE']).toBeUndefined();
    expect(config['UNDERSTUDY_COLLECTOR_MAX_BODY_BYTES']).toBe('4194304');
    expect(config['UNDERSTUDY_COLLECTOR_JOIN_MAX_HELD_BYTES']).toBe('268435456');
  });

  it('renders no ServiceMonitor and no HorizontalPodAutoscaler', () => {
    const kinds = manifests.map((m) => m.kind);
    expect(kinds).not.toContain('ServiceMonitor');
    expect(kinds).not.toContain('HorizontalPodAutoscaler');
  });
});

describe('model-registry access from values', () => {
  const tokens: Record<string, string> = {
    'dataset-builder': 'builder-token-0123456789',
    'trainer-orchestrator': 'orchestrator-token-0123456789',
    'inference-gateway': 'gateway-token-0123456789',
  };
  const alice = {
    subject: 'alice@example.com',
    tokenSha256: createHash('sha256').update('alice-token').digest('hex'),
    roles: ['approver'],
    tenants: ['acme'],
  };
  const set = [
    ...Object.entries(tokens).map(
      ([service, token]) => `registryAccess.serviceTokens.${service}=${token}`,
    ),
    `registryAccess.principals[0].subject=${alice.subject}`,
    `registryAccess.principals[0].tokenSha256=${alice.tokenSha256}`,
    'registryAccess.principals[0].roles={approver}',
    'registryAccess.principals[0].tenants={acme}',
  ];
  let manifests: Manifest[] = [];
  beforeAll(async () => {
    manifests = await render({ ...defaults, set });
  });

  const accessSecret = () =>
    objectsOf(manifests, Secret).find((s) => s.metadata?.name === 'understudy-registry-access');
  const decoded = (key: string) =>
    Buffer.from(accessSecret()?.data?.[key] ?? '', 'base64').toString('utf8');

  it('makes the principals file: the people of values, and its services with their least role', () => {
    const sha256 = (token: string) => createHash('sha256').update(token).digest('hex');
    const service = (subject: string, role: string) => ({
      subject,
      tokenSha256: sha256(tokens[subject] ?? ''),
      roles: [role],
      tenants: ['*'],
    });
    expect(JSON.parse(decoded('principals.json'))).toEqual([
      alice,
      service('dataset-builder', 'writer'),
      service('inference-gateway', 'reader'),
      service('trainer-orchestrator', 'writer'),
    ]);
    for (const [name, token] of Object.entries(tokens))
      expect(decoded(`${name}-token`)).toBe(token);
  });

  it('mounts each caller its own token alone, and serves the registry in plaintext', () => {
    for (const deployment of objectsOf(manifests, Deployment)) {
      const component = componentOf(deployment);
      const volume = deployment.spec?.template.spec?.volumes?.find(
        (v) => v.name === 'registry-access',
      );
      const items = volume?.secret?.items?.map((item) => item.key);
      if (component === 'model-registry') {
        expect(items).toEqual(['principals.json']);
        expect(containerOf(deployment).livenessProbe?.grpc?.port).toBe(50051);
      } else {
        expect(items, component).toEqual(
          callsRegistry.includes(component) ? [`${component}-token`] : undefined,
        );
      }
      const config = configOf(manifests, deployment.metadata?.name ?? '');
      expect(Object.keys(config).filter((key) => key.includes('TLS'))).toEqual([]);
    }
  });

  it('switches authentication off only when told, and then mounts no access at all', async () => {
    const open = await render({ ...defaults, set: ['registryAccess.enabled=false'] });
    expect(configOf(open, 'understudy-model-registry')['UNDERSTUDY_REGISTRY_AUTH']).toBe('off');
    expect(open.map((m) => m.metadata.name)).not.toContain('understudy-registry-access');
    for (const deployment of objectsOf(open, Deployment)) {
      const volumes = deployment.spec?.template.spec?.volumes ?? [];
      expect(volumes.map((v) => v.name)).not.toContain('registry-access');
      const config = configOf(open, deployment.metadata?.name ?? '');
      expect(config['UNDERSTUDY_REGISTRY_TOKEN_FILE']).toBeUndefined();
      expect(config['UNDERSTUDY_REGISTRY_PRINCIPALS_FILE']).toBeUndefined();
    }
    expect(
      configOf(manifests, 'understudy-model-registry')['UNDERSTUDY_REGISTRY_AUTH'],
    ).toBeUndefined();
  });
});

describe('NOTES.txt', () => {
  // helm template leaves NOTES.txt out and helm install needs a cluster, so a copy of the chart
  // renders the notes into a ConfigMap.
  let copy = '';
  beforeAll(async () => {
    copy = await mkdtemp(join(tmpdir(), 'understudy-chart-'));
    await cp(chartDir, copy, { recursive: true });
    const notes = await readFile(join(chartDir, 'templates', 'NOTES.txt'), 'utf8');
    await writeFile(
      join(copy, 'templates', '_notes-probe.tpl'),
      `{{- define "notes-probe" -}}\n${notes}\n{{- end }}\n`,
    );
    await writeFile(
      join(copy, 'templates', 'notes-probe.yaml'),
      'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: notes\ndata:\n' +
        '  notes: {{ include "notes-probe" . | quote }}\n',
    );
  });
  afterAll(async () => {
    await rm(copy, { recursive: true, force: true });
  });

  async function notes(options: RenderOptions): Promise<string> {
    const manifests = await render({ ...options, chart: copy });
    const configMap = objectsOf(manifests, ConfigMap).find((c) => c.metadata?.name === 'notes');
    return configMap?.data?.['notes'] ?? '';
  }

  it('tells where agents send OTLP, the gateway URL and the registry address', async () => {
    const text = await notes(production);
    expect(text).toContain('http://prod-understudy-collector.agents.svc:4318');
    expect(text).toContain('http://prod-understudy-collector.agents.svc:4317');
    expect(text).toContain(
      'OPENAI_BASE_URL=http://prod-understudy-inference-gateway.agents.svc:8080/v1',
    );
    expect(text).toContain('prod-understudy-model-registry.agents.svc:50051');
    expect(text).not.toContain('WARNING');
  });

  it('names the S3 Secret training Jobs need in their namespace', async () => {
    const text = await notes({ ...production, set: ['training.s3CredentialsSecret='] });
    expect(text).toContain('S3 keys from Secret understudy-s3 in understudy-training');
  });

  it('warns about missing credentials', async () => {
    const text = await notes(defaults);
    expect(text).toContain('s3.accessKey/s3.secretKey (or s3.existingSecret) are empty');
    expect(text).toContain('database.url (or database.existingSecret) is empty');
    expect(text).toContain('llm.apiKey (or llm.existingSecret) is empty');
    expect(text).toContain('redaction.secret (or redaction.existingSecret) is empty');
    expect(text).toContain(
      'registryAccess.serviceTokens.dataset-builder (or registryAccess.existingSecret) is empty',
    );
  });

  it('shows how to call the registry with a token, over mutual TLS where it serves that', async () => {
    expect(await notes(defaults)).toContain(
      `grpcurl -plaintext -H "authorization: Bearer $TOKEN" -d '{"tenantId": "acme"}'`,
    );
    expect(await notes(production)).toContain(
      'grpcurl -cacert ca.crt -authority prod-understudy-model-registry.agents.svc ' +
        '-cert tls.crt -key tls.key localhost:50051 list',
    );
  });

  it('warns when the registry lets anyone in', async () => {
    const text = await notes({ ...production, set: ['registryAccess.enabled=false'] });
    expect(text).toContain(
      'registryAccess.enabled is false: anyone reaching model-registry may read and change every tenant',
    );
  });
});

describe('invalid values', () => {
  it('values.schema.json rejects a bad values file, naming every mistake', async () => {
    const args = templateArgs({ ...defaults, valuesFiles: [here('invalid-values.yaml')] });
    const result = await helm(args);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain("values don't meet the specifications of the schema");
    for (const mistake of [
      "'/kafka/brokers': minItems",
      "'/services/collector/replicaCount': got string, want integer",
      "additional properties 'colector' not allowed",
      "'/securityContext/readOnlyRootFilesystem': value must be true",
      "'/training/gpuCount': minimum",
      "'/training/kueue/queueName'",
      "'/redaction/secret': 'shorter-than-32-characters' does not match pattern",
      "'/redaction/rules/patterns/0/entity': 'employee id' does not match pattern",
      "'/redaction/rules/disable/0': value must be one of",
      "'/registryAccess/principals/0/roles/0': value must be one of",
      "'/registryAccess/principals/0/tokenSha256': 'not-a-digest' does not match pattern",
      "'/registryAccess/principals/0/tenants': 'oneOf' failed",
      "'/registryAccess/principals/1': missing property 'tokenSha256'",
    ]) {
      expect(result.stderr).toContain(mistake);
    }
  });

  it('refuses S3 keys renamed for the services but not for training Jobs', async () => {
    const set = ['s3.existingSecret=storage', 's3.secretKeys.accessKey=id'];
    const result = await helm(templateArgs({ ...defaults, set }));
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain('set training.s3CredentialsSecret');
  });

  it('refuses a grace period that leaves a stopping service no time', async () => {
    const set = ['serviceDefaults.terminationGracePeriodSeconds=8'];
    const result = await helm(templateArgs({ ...defaults, set }));
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain(
      'terminationGracePeriodSeconds must exceed preStopSleepSeconds',
    );
  });

  it('refuses an in-flight budget smaller than the largest export', async () => {
    const set = ['collector.maxInFlightBytes=1048576'];
    const result = await helm(templateArgs({ ...defaults, set }));
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain('collector.maxInFlightBytes must hold the largest export');
  });

  it('takes content keys only from a Secret, never from values', async () => {
    const set = ['contentEncryption.existingSecret=keys', 'contentEncryption.content=c2VjcmV0'];
    const result = await helm(templateArgs({ ...defaults, set }));
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain("additional properties 'content' not allowed");
  });

  it('refuses mutual TLS without the CA or a calling service without its certificate', async () => {
    const noCa = await helm(
      templateArgs({ ...defaults, set: ['registryAccess.tls.clientCertificates=true'] }),
    );
    expect(noCa.code).not.toBe(0);
    expect(noCa.stderr).toContain(
      'registryAccess.tls.clientCertificates needs registryAccess.tls.existingSecret',
    );
    const set = ['registryAccess.tls.clientSecrets.inference-gateway='];
    const noCertificate = await helm(templateArgs({ ...production, set }));
    expect(noCertificate.code).not.toBe(0);
    expect(noCertificate.stderr).toContain(
      'registryAccess.tls.clientSecrets.inference-gateway: mutual TLS needs its client certificate',
    );
  });

  it('rejects a root container even through --set', async () => {
    const args = templateArgs({ ...defaults, set: ['podSecurityContext.runAsNonRoot=false'] });
    const result = await helm(args);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain("'/podSecurityContext/runAsNonRoot': value must be true");
  });
});
