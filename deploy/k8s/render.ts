/**
 * The manifests of deploy/k8s as a cluster would receive them, without kustomize or an API server
 * (the contract test test/contract/kubernetes.test.ts reads them through this). `renderKustomization`
 * does what `kustomize build` does for the features these kustomizations use, and refuses any
 * other kustomization field rather than render it wrong:
 * - `resources` (files, and directories holding a kustomization), in order;
 * - `secretGenerator` with `behavior: replace` and `envs`: the base Secret of that name keeps its
 *   name and metadata and its data becomes the env files' (kustomize adds no hash suffix to it,
 *   since the base Secret is not itself generated);
 * - `patches` whose file is an RFC 6902 JSON patch (`test`, `replace`, `add`, `remove`) with a
 *   `target` of group, version, kind and name (a regular expression, anchored, as in kustomize);
 * - `namespace`, set on every object but a Namespace;
 * - `images`: `newName`, `newTag` or `digest` for containers whose image has that name.
 * Checked against `kubectl kustomize` (kustomize v5.5) on these manifests when written.
 */
import { readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import type { IContainer } from "kubernetes-models/v1/Container";
import type { IPodSpec } from "kubernetes-models/v1/PodSpec";
import { parse, parseAllDocuments } from "yaml";

export type Labels = Record<string, string>;
/** One Kubernetes object as read from YAML; its kind's schema is checked by the contract test. */
export type K8sObject = { apiVersion: string; kind: string; metadata: { name: string; namespace?: string; labels?: Labels; annotations?: Labels }; [field: string]: any };
/** A pod a workload would create, as far as its template and its controller decide. */
export type Pod = { workload: K8sObject; name: string; labels: Labels; spec: IPodSpec };
type JsonPatchOp = { op: string; path: string; value?: unknown };

/** Ordinals a StatefulSet is simulated with: more than any replica count or route list here. */
export const SIMULATED_ORDINALS = 32;

const EMULATED_FIELDS = new Set(["apiVersion", "kind", "namespace", "resources", "images", "secretGenerator", "patches"]);

function check(condition: unknown, message: string): asserts condition {
  if (!condition) throw new Error(message);
}

/** Every YAML document of a file, comments and empty documents dropped. */
export function readYaml(path: string): K8sObject[] {
  return parseAllDocuments(readFileSync(path, "utf8")).flatMap((document) => {
    check(document.errors.length === 0, `${path}: ${document.errors.join("; ")}`);
    const value = document.toJS() as K8sObject | null;
    return value === null ? [] : [value];
  });
}

/** KEY=value lines, `#` comments and blank lines skipped, as kustomize reads an `envs` file. */
export function readEnvFile(path: string): Labels {
  const lines = readFileSync(path, "utf8")
    .split("\n")
    .map((line) => line.trim())
    .filter((line) => line !== "" && !line.startsWith("#"));
  return Object.fromEntries(lines.map((line) => [line.slice(0, line.indexOf("=")), line.slice(line.indexOf("=") + 1)]));
}

function applyJsonPatch(target: K8sObject, ops: JsonPatchOp[], where: string): void {
  for (const { op, path, value } of ops) {
    const keys = path
      .split("/")
      .slice(1)
      .map((key) => key.replaceAll("~1", "/").replaceAll("~0", "~"));
    const last = keys.pop()!;
    const parent = keys.reduce<any>((node, key) => {
      check(node !== null && typeof node === "object" && key in node, `${where}: ${path} does not exist`);
      return node[key];
    }, target);
    const exists = last in parent;
    if (op === "test") check(JSON.stringify(parent[last]) === JSON.stringify(value), `${where}: test of ${path} failed: it is ${JSON.stringify(parent[last])}`);
    else if (op === "replace" && exists) parent[last] = structuredClone(value);
    else if (op === "remove" && exists) Array.isArray(parent) ? parent.splice(Number(last), 1) : delete parent[last];
    else if (op === "add" && Array.isArray(parent)) parent.splice(last === "-" ? parent.length : Number(last), 0, structuredClone(value));
    else if (op === "add") parent[last] = structuredClone(value);
    else check(false, `${where}: ${op} ${path}: no such field, or an op not emulated here`);
  }
}

/**
 * `kustomize build dir` for the features listed above. `envFileFor` maps a generator's env file to
 * the one to read (the contract test reads the committed `.example`, never real secrets).
 */
export function renderKustomization(dir: string, envFileFor: (file: string) => string = (file) => file): K8sObject[] {
  const kustomization = parse(readFileSync(join(dir, "kustomization.yaml"), "utf8"));
  const unknown = Object.keys(kustomization).filter((key) => !EMULATED_FIELDS.has(key));
  check(unknown.length === 0, `${dir}: kustomization fields not emulated here: ${unknown.join(", ")}`);
  const objects: K8sObject[] = (kustomization.resources ?? []).flatMap((entry: string) =>
    statSync(join(dir, entry)).isDirectory() ? renderKustomization(join(dir, entry), envFileFor) : readYaml(join(dir, entry)),
  );
  for (const generator of kustomization.secretGenerator ?? []) {
    check(generator.behavior === "replace" && Array.isArray(generator.envs), `${dir}: only secretGenerator behavior: replace with envs is emulated`);
    const secret = named(objects, "Secret", generator.name);
    check(secret, `${dir}: secretGenerator replaces ${generator.name}, which the resources do not have`);
    const data: Labels = Object.assign({}, ...generator.envs.map((file: string) => readEnvFile(join(dir, envFileFor(file)))));
    delete secret.stringData;
    secret.data = Object.fromEntries(Object.entries(data).map(([key, value]) => [key, Buffer.from(value).toString("base64")]));
  }
  for (const { path, target } of kustomization.patches ?? []) {
    const apiVersion = target.group ? `${target.group}/${target.version}` : target.version;
    const matches = objects.filter((object) => object.kind === target.kind && object.apiVersion === apiVersion && new RegExp(`^(?:${target.name})$`).test(object.metadata.name));
    check(matches.length > 0, `${dir}: patch ${path} matches nothing`);
    for (const object of matches) applyJsonPatch(object, parse(readFileSync(join(dir, path), "utf8")), `${dir}/${path} on ${object.kind}/${object.metadata.name}`);
  }
  for (const object of objects) if (kustomization.namespace && object.kind !== "Namespace") object.metadata.namespace = kustomization.namespace;
  for (const image of kustomization.images ?? []) {
    for (const container of objects.flatMap((object) => object.spec?.template?.spec?.containers ?? []) as IContainer[]) {
      const [, name, tag] = /^([^:@]+(?::\d+\/[^:@]+)?)(?::([^@]+))?(?:@.*)?$/.exec(container.image ?? "") ?? [];
      if (name === image.name) container.image = `${image.newName ?? name}${image.digest ? `@${image.digest}` : `:${image.newTag ?? tag ?? "latest"}`}`;
    }
  }
  return objects;
}

/** The objects of a kind. */
export const ofKind = (build: K8sObject[], kind: string) => build.filter((object) => object.kind === kind);
/** The object of a kind and name, if any. */
export const named = (build: K8sObject[], kind: string, name: string) => ofKind(build, kind).find((object) => object.metadata.name === name);
/** Whether a (non-empty) equality selector selects these labels. */
export const selects = (selector: Labels | undefined, labels: Labels) =>
  selector !== undefined && Object.keys(selector).length > 0 && Object.entries(selector).every(([key, value]) => labels[key] === value);

/** The pods each workload may create: one for a Deployment, SIMULATED_ORDINALS for a StatefulSet. */
export function podsOf(build: K8sObject[]): Pod[] {
  return build.flatMap((workload) => {
    const template = workload.spec?.template;
    if (workload.kind === "Deployment") return [{ workload, name: `${workload.metadata.name}-7d9f8b6c5-x2x4z`, labels: template.metadata.labels, spec: template.spec }];
    if (workload.kind !== "StatefulSet") return [];
    return Array.from({ length: SIMULATED_ORDINALS }, (_, ordinal) => {
      const name = `${workload.metadata.name}-${ordinal}`;
      // The StatefulSet controller adds these two labels to each pod it creates.
      const labels = { ...template.metadata.labels, "statefulset.kubernetes.io/pod-name": name, "apps.kubernetes.io/pod-index": String(ordinal) };
      return { workload, name, labels, spec: template.spec };
    });
  });
}

/** The pods that exist at each workload's replica count (one for a Deployment an autoscaler sizes). */
export function runningPods(build: K8sObject[]): Pod[] {
  return podsOf(build).filter((pod) => pod.workload.kind === "Deployment" || Number(pod.labels["apps.kubernetes.io/pod-index"]) < (pod.workload.spec.replicas ?? 1));
}

/**
 * A container's environment as the kubelet builds it: `envFrom` ConfigMaps, then `env` in order,
 * each `$(NAME)` expanded from the variables before it (`$$` is a literal `$`), `metadata.name`
 * from the pod, secretKeyRef from the build's Secret. Any other source is refused.
 */
export function environmentOf(build: K8sObject[], pod: Pod, container: IContainer): Labels {
  const env: Labels = {};
  for (const from of container.envFrom ?? []) {
    const configMap = from.configMapRef && named(build, "ConfigMap", from.configMapRef.name!);
    check(configMap && !from.secretRef && !from.prefix, `${pod.name}: envFrom takes only a whole ConfigMap of the build`);
    Object.assign(env, configMap.data);
  }
  for (const { name, value, valueFrom } of container.env ?? []) {
    if (value !== undefined) env[name] = value.replace(/\$\$|\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (match, ref: string | undefined) => (ref === undefined ? "$" : (env[ref] ?? match)));
    else if (valueFrom?.fieldRef?.fieldPath === "metadata.name") env[name] = pod.name;
    else if (valueFrom?.secretKeyRef) env[name] = secretValue(build, valueFrom.secretKeyRef.name!, valueFrom.secretKeyRef.key, pod.name);
    else check(false, `${pod.name}: env ${name} comes from a source not resolved here`);
  }
  return env;
}

function secretValue(build: K8sObject[], name: string, key: string, podName: string): string {
  const secret = named(build, "Secret", name);
  check(secret, `${podName}: Secret ${name} does not exist`);
  const value = secret.stringData?.[key] ?? (secret.data?.[key] === undefined ? undefined : Buffer.from(secret.data[key], "base64").toString());
  check(value !== undefined, `${podName}: Secret ${name} has no key ${key}`);
  return value;
}
