// Renders the chart with the real helm binary and checks every object against the Kubernetes
// OpenAPI schemas compiled into kubernetes-models (there is no API server to ask here).
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { helmBinary } from '@understudy/testbed';
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler';
import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import { Job } from 'kubernetes-models/batch/v1/Job';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget';
import { Role } from 'kubernetes-models/rbac.authorization.k8s.io/v1/Role';
import { RoleBinding } from 'kubernetes-models/rbac.authorization.k8s.io/v1/RoleBinding';
import { ConfigMap } from 'kubernetes-models/v1/ConfigMap';
import { Secret } from 'kubernetes-models/v1/Secret';
import { Service } from 'kubernetes-models/v1/Service';
import { ServiceAccount } from 'kubernetes-models/v1/ServiceAccount';
import { parseAllDocuments } from 'yaml';

export const chartDir = fileURLToPath(new URL('../../helm/understudy', import.meta.url));

/** The Kubernetes version the chart is rendered for, as new as the schemas in kubernetes-models. */
export const KUBE_VERSION = '1.34.0';

export interface Manifest {
  readonly apiVersion: string;
  readonly kind: string;
  readonly metadata: { readonly name: string; readonly namespace?: string };
  readonly [field: string]: unknown;
}

export interface ModelClass<T> {
  readonly apiVersion: string;
  readonly kind: string;
  new (data: never): T;
}

/** Every kind the chart may render, as kubernetes-models classes; any other kind is an error. */
const models: readonly ModelClass<{ validate(): void }>[] = [
  ConfigMap,
  Secret,
  Service,
  ServiceAccount,
  Deployment,
  HorizontalPodAutoscaler,
  PodDisruptionBudget,
  Role,
  RoleBinding,
  Job,
];

/**
 * Kinds of CRDs that kubernetes-models does not know, each with a structural check instead.
 * ServiceMonitor: Prometheus Operator, rendered only when metrics.serviceMonitor.enabled.
 */
const customKinds: Readonly<Record<string, (manifest: Manifest) => void>> = {
  'monitoring.coreos.com/v1/ServiceMonitor': (manifest) => {
    const spec = manifest['spec'] as
      | { selector?: { matchLabels?: object }; endpoints?: { port?: string; path?: string }[] }
      | undefined;
    if (spec?.selector?.matchLabels === undefined) throw new Error('ServiceMonitor: no selector');
    const endpoints = spec.endpoints ?? [];
    if (endpoints.length === 0 || endpoints.some((e) => e.port === undefined)) {
      throw new Error('ServiceMonitor: every endpoint needs a port');
    }
  },
};

export function instantiate<T>(model: ModelClass<T>, manifest: Manifest): T {
  return new model(manifest as never);
}

/** Throws a ValidationError naming the bad field, or for a kind the chart must not render. */
export function validate(manifest: Manifest): void {
  const model = models.find(
    (m) => m.apiVersion === manifest.apiVersion && m.kind === manifest.kind,
  );
  if (model !== undefined) {
    instantiate(model, manifest).validate();
    return;
  }
  const custom = customKinds[`${manifest.apiVersion}/${manifest.kind}`];
  if (custom === undefined) {
    throw new Error(`unexpected kind ${manifest.apiVersion} ${manifest.kind}`);
  }
  custom(manifest);
}

/** The objects of one kind, typed by its model. */
export function objectsOf<T>(manifests: readonly Manifest[], model: ModelClass<T>): T[] {
  return manifests
    .filter((m) => m.apiVersion === model.apiVersion && m.kind === model.kind)
    .map((m) => instantiate(model, m));
}

export interface HelmResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs helm to completion; never rejects for a non-zero exit, which tests assert on. */
export async function helm(args: readonly string[]): Promise<HelmResult> {
  const binary = await helmBinary();
  return new Promise((resolve, reject) => {
    const child = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    child.stdout.on('data', (chunk: Buffer) => stdout.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
    child.once('error', reject);
    child.once('close', (code) => {
      resolve({
        code: code ?? -1,
        stdout: Buffer.concat(stdout).toString('utf8'),
        stderr: Buffer.concat(stderr).toString('utf8'),
      });
    });
  });
}

export interface RenderOptions {
  readonly release: string;
  readonly namespace: string;
  readonly valuesFiles?: readonly string[];
  /** `--set` assignments, e.g. `training.gpuCount=0`. */
  readonly set?: readonly string[];
  readonly chart?: string;
}

export function templateArgs(options: RenderOptions): string[] {
  return [
    'template',
    options.release,
    options.chart ?? chartDir,
    '--namespace',
    options.namespace,
    '--kube-version',
    KUBE_VERSION,
    ...(options.valuesFiles ?? []).flatMap((file) => ['--values', file]),
    ...(options.set ?? []).flatMap((assignment) => ['--set', assignment]),
  ];
}

function isManifest(value: unknown): value is Manifest {
  if (typeof value !== 'object' || value === null) return false;
  const { apiVersion, kind, metadata } = value as Record<string, unknown>;
  return (
    typeof apiVersion === 'string' &&
    typeof kind === 'string' &&
    typeof metadata === 'object' &&
    metadata !== null &&
    typeof (metadata as Record<string, unknown>)['name'] === 'string'
  );
}

/** `helm template`, every YAML document parsed; fails on helm errors and malformed YAML. */
export async function render(options: RenderOptions): Promise<Manifest[]> {
  const result = await helm(templateArgs(options));
  if (result.code !== 0) throw new Error(`helm template failed:\n${result.stderr}`);
  const manifests: Manifest[] = [];
  for (const document of parseAllDocuments(result.stdout)) {
    if (document.errors.length > 0) throw new Error(document.errors.join('\n'));
    const value: unknown = document.toJS();
    if (value === null) continue;
    if (!isManifest(value)) throw new Error(`not a Kubernetes object: ${JSON.stringify(value)}`);
    manifests.push(value);
  }
  return manifests;
}
