/**
 * The Kubernetes manifests (deploy/k8s) as a cluster would receive them, checked offline: no API
 * server, no kubectl. Each build, the base and the production overlay, is rendered by
 * deploy/k8s/render.ts the way `kustomize build` renders it (for the features these
 * kustomizations use; any other fails the render), with the overlay's secrets read from the
 * committed secrets.env.example. Objects are validated with kubernetes-models, and then held
 * against each other and against the server: config.ts's variables, routes.ts's routes.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { createServer } from "node:net";
import { basename, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import ts from "typescript";
import { parse } from "yaml";
import type { IContainer } from "kubernetes-models/v1/Container";
import { environmentOf, type K8sObject, named, ofKind, podsOf, renderKustomization, runningPods, selects } from "../../deploy/k8s/render.ts";
import { ConfigError, loadConfig } from "../../server/config.ts";
import { configVariables } from "../support/config-variables.ts";
import { sdkClient, startNode } from "../support/node-process.ts";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "../..");
const BUILDS = { base: join(ROOT, "deploy/k8s/base"), production: join(ROOT, "deploy/k8s/overlays/production") };
/** Secret keys a node validates, with stand-ins that pass: the committed placeholders must not. */
const WELL_FORMED_SECRETS = { JWT_SECRET: "x".repeat(48), MONITOR_PASSWORD: "y".repeat(24) };

/** The jobs deploy/prometheus/alerts.yml selects (`job="..."`). */
const alertJobs = [...new Set([...readFileSync(join(ROOT, "deploy/prometheus/alerts.yml"), "utf8").matchAll(/job="([^"]+)"/g)].map((match) => match[1]))];
const routeSource = readFileSync(join(ROOT, "server/http/routes.ts"), "utf8");
const serverServes = (path: string) => routeSource.includes(`app.get("${path}"`);
const containerPort = (container: IContainer, port: string | number | undefined) => container.ports?.find((entry) => entry.name === port || entry.containerPort === port);
const milliseconds = (duration: string) => [...duration.matchAll(/(\d+)(ms|s|m|h)/g)].reduce((sum, [, n, unit]) => sum + Number(n) * { ms: 1, s: 1e3, m: 6e4, h: 36e5 }[unit as "ms"], 0);
const cpu = (quantity: string) => (quantity.endsWith("m") ? Number(quantity.slice(0, -1)) / 1000 : Number(quantity));
const bytes = (quantity: string) => Number(/^\d+/.exec(quantity)![0]) * 1024 ** ["", "Ki", "Mi", "Gi", "Ti"].indexOf(quantity.replace(/^\d+/, ""));

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe("Kubernetes manifests (deploy/k8s)", function () {
  let builds: Array<{ name: string; build: K8sObject[] }> = [];
  before(function () {
    builds = Object.entries(BUILDS).map(([name, dir]) => ({ name, build: renderKustomization(dir, (file) => `${file}.example`) }));
  });
  const eachBuild = (test: (build: K8sObject[], name: string) => void | Promise<void>) => async () => {
    for (const { name, build } of builds) await test(build, name);
  };

  it(
    "validates every object of the base and of the production overlay against its Kubernetes schema (kubernetes-models)",
    eachBuild(async (build, name) => {
      for (const object of build) {
        if (object.apiVersion.startsWith("monitoring.coreos.com/")) continue; // a CRD: checked by hand below
        const model = await import(`kubernetes-models/${object.apiVersion}/${object.kind}`).catch(() => undefined);
        assert.ok(model, `${name}: no kubernetes-models schema for ${object.apiVersion} ${object.kind}`);
        assert.doesNotThrow(() => new model[object.kind](object).validate(), `${name}: ${object.kind}/${object.metadata.name}`);
      }
    }),
  );

  it("sets no field that the schema of its kind does not have (the types of kubernetes-models, which validate() does not check)", function () {
    // validate() accepts unknown fields (a pod-level readOnlyRootFilesystem, a misspelt probe field),
    // which the API server refuses or drops; TypeScript's excess-property check against the same
    // models' types catches them. The file below exists only in memory.
    const objects = builds.flatMap(({ name, build }) => build.filter((object) => !object.apiVersion.startsWith("monitoring.coreos.com/")).map((object) => ({ name, object })));
    const file = join(ROOT, "test/contract/kubernetes-objects.generated.ts");
    const source = objects
      .map(({ object }, i) => `import type { I${object.kind} as T${i} } from "kubernetes-models/${object.apiVersion}/${object.kind}";\nexport const o${i}: T${i} = ${JSON.stringify(object, null, 1)};`)
      .join("\n");
    const options: ts.CompilerOptions = {
      strict: true,
      noEmit: true,
      module: ts.ModuleKind.NodeNext,
      moduleResolution: ts.ModuleResolutionKind.NodeNext,
      target: ts.ScriptTarget.ES2023,
      skipLibCheck: true,
      types: [],
    };
    const host = ts.createCompilerHost(options);
    const { getSourceFile, fileExists } = host;
    host.getSourceFile = (path, language, ...rest) => (path === file ? ts.createSourceFile(path, source, language) : getSourceFile.call(host, path, language, ...rest));
    host.fileExists = (path) => path === file || fileExists.call(host, path);
    const program = ts.createProgram([file], options, host);
    const problems = ts.getPreEmitDiagnostics(program, program.getSourceFile(file)).map((diagnostic) => {
      const line = diagnostic.file!.getLineAndCharacterOfPosition(diagnostic.start!).line;
      const at =
        objects[
          source
            .split("\n")
            .slice(0, line + 1)
            .filter((text) => text.startsWith("export const")).length - 1
        ];
      return `${at?.name}: ${at?.object.kind}/${at?.object.metadata.name}: ${ts.flattenDiagnosticMessageText(diagnostic.messageText, " ").split(" ").slice(-40).join(" ")}`;
    });
    assert.deepEqual(problems, []);
  });

  it(
    "gives the ServiceMonitor the monitoring.coreos.com/v1 shape (checked by hand: kubernetes-models has no prometheus-operator models)",
    eachBuild((build) => {
      const [monitor, ...more] = ofKind(build, "ServiceMonitor");
      assert.ok(monitor && more.length === 0 && monitor.apiVersion === "monitoring.coreos.com/v1");
      assert.deepEqual(
        Object.keys(monitor.spec).filter((key) => !["selector", "endpoints", "namespaceSelector", "jobLabel", "targetLabels", "podTargetLabels"].includes(key)),
        [],
      );
      assert.ok(Object.values(monitor.spec.selector.matchLabels).every((value) => typeof value === "string"));
      const duration = /^(\d+(ms|s|m|h))+$/;
      for (const endpoint of monitor.spec.endpoints) {
        assert.deepEqual(
          Object.keys(endpoint).filter((key) => !["port", "path", "interval", "scrapeTimeout", "scheme"].includes(key)),
          [],
        );
        assert.ok(typeof endpoint.port === "string" && duration.test(endpoint.interval) && duration.test(endpoint.scrapeTimeout));
        assert.ok(milliseconds(endpoint.scrapeTimeout) <= milliseconds(endpoint.interval), "scrapeTimeout is at most the interval");
      }
    }),
  );

  it(
    "puts every object in the namespace the build creates",
    eachBuild((build, name) => {
      const [namespace] = ofKind(build, "Namespace");
      assert.ok(namespace, `${name}: no Namespace`);
      for (const object of build) if (object !== namespace) assert.equal(object.metadata.namespace, namespace.metadata.name, `${name}: ${object.kind}/${object.metadata.name}`);
    }),
  );

  it(
    "matches each workload's selector to its pod labels, and each Service to pods and their ports",
    eachBuild((build, name) => {
      const pods = podsOf(build);
      for (const workload of [...ofKind(build, "Deployment"), ...ofKind(build, "StatefulSet")]) {
        assert.ok(selects(workload.spec.selector.matchLabels, workload.spec.template.metadata.labels), `${name}: ${workload.kind}/${workload.metadata.name}`);
      }
      for (const service of ofKind(build, "Service")) {
        const selected = pods.filter((pod) => selects(service.spec.selector, pod.labels));
        assert.ok(selected.length > 0, `${name}: Service ${service.metadata.name} selects no pod`);
        for (const port of service.spec.ports) {
          for (const pod of selected)
            assert.ok(containerPort(pod.spec.containers[0]!, port.targetPort), `${name}: Service ${service.metadata.name} targets port ${port.targetPort}, which ${pod.name} lacks`);
        }
      }
      for (const set of ofKind(build, "StatefulSet")) {
        const governing = named(build, "Service", set.spec.serviceName);
        assert.ok(governing?.spec.clusterIP === "None" && selects(governing.spec.selector, set.spec.template.metadata.labels), `${name}: ${set.metadata.name} needs its headless Service`);
      }
    }),
  );

  it(
    "announces each rooms pod at <Ingress host>:443/<pod name>, a path that reaches that pod alone",
    eachBuild((build, name) => {
      const rooms = ofKind(build, "StatefulSet");
      assert.equal(rooms.length, 1);
      const pods = podsOf(build).filter((pod) => pod.workload === rooms[0]);
      const paths = ofKind(build, "Ingress").flatMap((ingress) => ingress.spec.rules.flatMap((rule: any) => rule.http.paths.map((path: any) => ({ ingress, host: rule.host, ...path }))));
      for (const pod of runningPods(build).filter((running) => running.workload === rooms[0])) {
        const address = /^([^:/]+):(\d+)(\/.*)$/.exec(environmentOf(build, pod, pod.spec.containers[0]!).PUBLIC_ADDRESS ?? "");
        assert.ok(address, `${name}: ${pod.name} has no PUBLIC_ADDRESS host:port/path`);
        const [, host, port, path] = address;
        assert.equal(path, `/${pod.name}`, `${name}: ${pod.name} announces its own path`);
        const route = paths.find((entry) => entry.host === host && entry.path === path);
        assert.ok(route && route.pathType === "Prefix", `${name}: no Ingress path ${host}${path}`);
        assert.ok(port === "443" && route.ingress.spec.tls.some((tls: any) => tls.hosts.includes(host)), `${name}: ${host} is served on 443 with TLS`);
        const service = named(build, "Service", route.backend.service.name);
        assert.deepEqual(
          pods.filter((candidate) => selects(service?.spec.selector, candidate.labels)).map((candidate) => candidate.name),
          [pod.name],
          `${name}: ${path} reaches ${pod.name} and no other pod`,
        );
      }
      const routes = paths.filter((entry) => /^\/rooms-\d+$/.test(entry.path));
      for (const route of routes) {
        const service = named(build, "Service", route.backend.service.name);
        const reached = pods.filter((candidate) => selects(service?.spec.selector, candidate.labels)).map((candidate) => candidate.name);
        assert.deepEqual(reached, [`${rooms[0]!.metadata.name}-${route.path.slice("/rooms-".length)}`], `${name}: ${route.path} reaches its own pod, running or not yet`);
      }
      for (const ingress of ofKind(build, "Ingress")) {
        assert.ok(!Object.keys(ingress.metadata.annotations ?? {}).some((key) => key.endsWith("rewrite-target")), "paths reach the node unchanged: the ws transport accepts the prefix");
      }
      const autoscaler = ofKind(build, "HorizontalPodAutoscaler").find((hpa) => hpa.spec.scaleTargetRef.kind === "StatefulSet");
      assert.ok(Math.max(rooms[0]!.spec.replicas, autoscaler?.spec.maxReplicas ?? 0) <= routes.length, `${name}: more rooms pods than routes (${routes.length})`);
    }),
  );

  it(
    "routes only /matchmake, /v1 and the per-pod room paths, with long proxy timeouts on the WebSocket paths",
    eachBuild((build, name) => {
      for (const ingress of ofKind(build, "Ingress")) {
        assert.equal(ingress.spec.defaultBackend, undefined, `${name}: ${ingress.metadata.name} has a default backend`);
        const paths: string[] = ingress.spec.rules.flatMap((rule: any) => rule.http.paths.map((path: any) => path.path));
        for (const path of paths) assert.match(path, /^\/(matchmake|v1|rooms-\d+)$/, `${name}: ${ingress.metadata.name} exposes ${path}`);
        for (const { path, backend } of ingress.spec.rules.flatMap((rule: any) => rule.http.paths)) {
          const service = named(build, "Service", backend.service.name);
          assert.ok(
            service?.spec.ports.some((port: any) => port.name === backend.service.port.name),
            `${name}: ${path} goes to a port of an existing Service`,
          );
          const roles = podsOf(build)
            .filter((pod) => selects(service?.spec.selector, pod.labels))
            .map((pod) => environmentOf(build, pod, pod.spec.containers[0]!).ROLE);
          assert.ok(
            roles.length > 0 && roles.every((role) => role === (path.startsWith("/rooms-") ? "rooms" : "api")),
            `${name}: ${path} reaches the ${path.startsWith("/rooms-") ? "rooms" : "api"} tier`,
          );
        }
        if (paths.some((path) => path.startsWith("/rooms-"))) {
          for (const timeout of ["proxy-read-timeout", "proxy-send-timeout"]) {
            assert.ok(Number(ingress.metadata.annotations?.[`nginx.ingress.kubernetes.io/${timeout}`]) >= 3600, `${name}: ${ingress.metadata.name} ${timeout}`);
          }
        }
      }
    }),
  );

  it(
    "probes /healthz for liveness and startup and /readyz for readiness, on the port the node listens on",
    eachBuild((build, name) => {
      for (const pod of runningPods(build)) {
        const container = pod.spec.containers[0]!;
        const port = loadConfig({ ...environmentOf(build, pod, container), ...WELL_FORMED_SECRETS }).port;
        for (const [probe, path] of [
          ["livenessProbe", "/healthz"],
          ["readinessProbe", "/readyz"],
          ["startupProbe", "/healthz"],
        ] as const) {
          const get = container[probe]?.httpGet;
          assert.ok(get?.path === path && serverServes(path), `${name}: ${pod.name} ${probe} is GET ${path}`);
          assert.equal(containerPort(container, get.port)?.containerPort, port, `${name}: ${pod.name} ${probe} hits PORT`);
        }
      }
    }),
  );

  it(
    "gives each pod more termination grace than its preStop sleep plus DRAIN_TIMEOUT_MS",
    eachBuild((build, name) => {
      for (const pod of runningPods(build)) {
        const container = pod.spec.containers[0]!;
        const drainSeconds = loadConfig({ ...environmentOf(build, pod, container), ...WELL_FORMED_SECRETS }).drainTimeoutMs / 1000;
        const preStop = container.lifecycle?.preStop;
        assert.ok(preStop === undefined || preStop.sleep, `${name}: ${pod.name}: a preStop hook here is a sleep`);
        const graceSeconds = pod.spec.terminationGracePeriodSeconds ?? 30;
        assert.ok(graceSeconds > (preStop?.sleep?.seconds ?? 0) + drainSeconds, `${name}: ${pod.name}: grace ${graceSeconds} s, drain ${drainSeconds} s`);
      }
      assert.ok(
        runningPods(build).some((pod) => pod.workload.kind === "Deployment" && pod.spec.containers[0]!.lifecycle?.preStop?.sleep),
        "the api tier waits for the Ingress to drop it",
      );
    }),
  );

  it(
    "sets only variables that server/config.ts reads, besides helpers that compose one of them",
    eachBuild((build, name) => {
      const known = configVariables(); // read from server/config.ts's source
      assert.ok(known.has("PORT") && known.has("DRAIN_TIMEOUT_MS"), "config.ts's readers are recognised");
      for (const configMap of ofKind(build, "ConfigMap")) {
        for (const key of Object.keys(configMap.data)) assert.ok(known.has(key), `${name}: ConfigMap ${configMap.metadata.name} sets ${key}, which config.ts does not read`);
      }
      for (const pod of runningPods(build)) {
        const env = pod.spec.containers[0]!.env ?? [];
        for (const [index, variable] of env.entries()) {
          const composes = env.slice(index + 1).some((later) => later.value?.includes(`$(${variable.name})`));
          assert.ok(known.has(variable.name) || composes, `${name}: ${pod.name} sets ${variable.name}, which config.ts does not read`);
        }
      }
    }),
  );

  it(
    "takes the secrets from the Secret by keys it has, and a node refuses to start on the committed placeholders",
    eachBuild((build, name) => {
      const secretKeys = new Set(Object.keys({ ...named(build, "Secret", "parley-secrets")?.data, ...named(build, "Secret", "parley-secrets")?.stringData }));
      for (const key of ["JWT_SECRET", "MONITOR_PASSWORD", "MONGO_URL", "REDIS_URL"]) assert.ok(secretKeys.has(key), `${name}: the Secret lacks ${key}`);
      for (const configMap of ofKind(build, "ConfigMap")) assert.ok(!Object.keys(configMap.data).some((key) => secretKeys.has(key)), `${name}: a secret in a ConfigMap`);
      for (const pod of runningPods(build)) {
        const container = pod.spec.containers[0]!;
        for (const variable of container.env ?? []) assert.ok(!secretKeys.has(variable.name) || variable.valueFrom?.secretKeyRef, `${name}: ${pod.name} sets ${variable.name} literally`);
        const env = environmentOf(build, pod, container);
        assert.throws(
          () => loadConfig(env),
          (error) => error instanceof ConfigError && error.variable === "JWT_SECRET",
          `${name}: ${pod.name} starts on a placeholder`,
        );
        const config = loadConfig({ ...env, ...WELL_FORMED_SECRETS });
        assert.ok(config.env === "production" && config.redisUrl && config.mongoUrl && config.publicAddress && config.role !== "all", `${name}: ${pod.name} is a production cluster node`);
        if (config.role === "api") assert.ok(env.MONITOR_PASSWORD !== undefined, `${name}: the api tier serves /monitor`);
      }
      if (name === "production") {
        const overlay = parse(readFileSync(join(BUILDS.production, "kustomization.yaml"), "utf8"));
        for (const file of overlay.secretGenerator.flatMap((generator: { envs: string[] }) => generator.envs)) {
          assert.ok(readFileSync(join(BUILDS.production, ".gitignore"), "utf8").split("\n").includes(basename(file)), `${file} is ignored by git`);
        }
        for (const pod of runningPods(build)) assert.match(pod.spec.containers[0]!.image!, /^[^:@]+(:(?!latest$)[\w.-]+|@sha256:[0-9a-f]{64})$/, "a pinned image");
      }
    }),
  );

  it(
    "runs every container non-root on a read-only root filesystem, without privilege escalation or capabilities, within requests and limits",
    eachBuild((build, name) => {
      assert.match(readFileSync(join(ROOT, "Dockerfile"), "utf8"), /^USER node$/m, "the image's user is node (uid 1000)");
      for (const pod of runningPods(build)) {
        const where = `${name}: ${pod.name}`;
        const { securityContext: podSecurity, containers } = pod.spec;
        assert.ok(podSecurity?.runAsNonRoot === true && podSecurity.runAsUser === 1000 && podSecurity.seccompProfile?.type === "RuntimeDefault", where);
        assert.ok(pod.spec.automountServiceAccountToken === false && pod.spec.enableServiceLinks === false, `${where}: no API token, no Service variables`);
        for (const container of containers) {
          const security = container.securityContext;
          assert.ok(security?.readOnlyRootFilesystem === true && security.allowPrivilegeEscalation === false && security.privileged !== true, where);
          assert.ok(security?.capabilities?.drop?.includes("ALL") && !security.capabilities.add?.length, `${where}: every capability dropped`);
          const tmp = container.volumeMounts?.find((mount) => mount.mountPath === "/tmp");
          assert.ok(tmp && pod.spec.volumes?.some((volume) => volume.name === tmp.name && volume.emptyDir), `${where}: a writable /tmp`);
          const { requests, limits } = container.resources ?? {};
          assert.ok(requests?.cpu && requests.memory && limits?.cpu && limits.memory, `${where}: requests and limits`);
          assert.ok(cpu(String(requests.cpu)) <= cpu(String(limits.cpu)) && bytes(String(requests.memory)) <= bytes(String(limits.memory)), `${where}: requests within limits`);
        }
      }
    }),
  );

  it(
    "keeps a PodDisruptionBudget on the rooms pods and autoscales the api Deployment (autoscaling/v2)",
    eachBuild((build, name) => {
      const rooms = ofKind(build, "StatefulSet")[0]!;
      assert.ok(
        ofKind(build, "PodDisruptionBudget").some((pdb) => selects(pdb.spec.selector.matchLabels, rooms.spec.template.metadata.labels) && pdb.spec.maxUnavailable === 1),
        `${name}: rooms PDB`,
      );
      const autoscalers = ofKind(build, "HorizontalPodAutoscaler");
      assert.ok(
        autoscalers.some((hpa) => hpa.apiVersion === "autoscaling/v2" && hpa.spec.scaleTargetRef.kind === "Deployment" && hpa.spec.scaleTargetRef.name === "api"),
        `${name}: api HPA`,
      );
      for (const hpa of autoscalers) {
        const target = named(build, hpa.spec.scaleTargetRef.kind, hpa.spec.scaleTargetRef.name);
        assert.ok(target && target.apiVersion === hpa.spec.scaleTargetRef.apiVersion, `${name}: ${hpa.metadata.name} targets a workload of this build`);
        assert.equal(target.spec.replicas, undefined, `${name}: ${target.metadata.name} leaves its replica count to the autoscaler`);
        assert.ok(hpa.spec.minReplicas >= 2 && hpa.spec.minReplicas <= hpa.spec.maxReplicas, `${name}: ${hpa.metadata.name} bounds`);
      }
    }),
  );

  it(
    "admits only the ingress controller and Prometheus to the pods, and Prometheus scrapes each pod's /metrics once, as the alert rules' job",
    eachBuild((build, name) => {
      const policies = ofKind(build, "NetworkPolicy");
      assert.equal(policies.length, 1, `${name}: one NetworkPolicy`);
      const policy = policies[0]!;
      const pods = runningPods(build);
      assert.ok(policy.spec.policyTypes.includes("Ingress") && pods.every((pod) => selects(policy.spec.podSelector.matchLabels, pod.labels)), `${name}: every pod is isolated`);
      const namespaces = policy.spec.ingress.map((rule: any) => {
        assert.ok(rule.from.length === 1 && rule.ports.every((port: any) => pods.every((pod) => containerPort(pod.spec.containers[0]!, port.port))), `${name}: one source per rule, on the pod port`);
        return rule.from[0].namespaceSelector.matchLabels["kubernetes.io/metadata.name"];
      });
      assert.deepEqual(namespaces.sort(), ["ingress-nginx", "monitoring"]);
      const monitor = ofKind(build, "ServiceMonitor")[0]!;
      const scraped = ofKind(build, "Service").filter((service) => selects(monitor.spec.selector.matchLabels, service.metadata.labels ?? {}));
      for (const pod of pods) {
        const through = scraped.filter((service) => selects(service.spec.selector, pod.labels));
        assert.equal(through.length, 1, `${name}: ${pod.name} is scraped through ${through.length} Services`);
        for (const endpoint of monitor.spec.endpoints) assert.ok(through[0]!.spec.ports.some((port: any) => port.name === endpoint.port) && serverServes(endpoint.path), `${name}: ${endpoint.path}`);
        const job = through[0]!.metadata.labels?.[monitor.spec.jobLabel] ?? through[0]!.metadata.name;
        assert.deepEqual([job], alertJobs, `${name}: ${pod.name} is scraped as the job the alert rules select`);
      }
    }),
  );

  it("seats a client through a rooms pod's path as the Ingress forwards it (prefix kept), and answers 404 for /metrics on that path", async function () {
    const build = builds.find((entry) => entry.name === "production")!.build;
    const pod = runningPods(build).find((candidate) => candidate.workload.kind === "StatefulSet")!;
    const env = environmentOf(build, pod, pod.spec.containers[0]!);
    const prefix = env.PUBLIC_ADDRESS!.slice(env.PUBLIC_ADDRESS!.indexOf("/"));
    const port = await freePort();
    const node = await startNode({ PORT: String(port), PUBLIC_ADDRESS: `127.0.0.1:${port}${prefix}`, TRANSPORT: env.TRANSPORT, TRUSTED_PROXY_HOPS: env.TRUSTED_PROXY_HOPS });
    try {
      const client = sdkClient(node);
      const room = await client.joinOrCreate("chat", { conversationId: `channel:k8s${Date.now().toString(36)}`, userId: "alice" });
      room.onMessage("*", () => {});
      assert.match(new URL(room.connection.url!).pathname, new RegExp(`^${prefix}/[\\w-]+/${room.roomId}$`), "the SDK built <PUBLIC_ADDRESS>/<processId>/<roomId>");
      const reply = (await room.request("send", { clientMsgId: "k8s-1", text: "through the per-pod path" })) as { seq: number };
      assert.equal(reply.seq, 1);
      await room.leave();
      for (const path of ["/metrics", "/healthz", "/readyz"]) {
        assert.equal((await fetch(`${node.httpUrl}${path}`)).status, 200, `${path} on the pod port`);
        assert.equal((await fetch(`${node.httpUrl}${prefix}${path}`)).status, 404, `${prefix}${path} reaches no route`);
      }
    } finally {
      await node.stop();
    }
  });
});
