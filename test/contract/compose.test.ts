/**
 * The compose file (deploy/compose/) checked without a Docker engine: its services, ports and
 * environment against the node's configuration, the proxy's routes against each node's
 * PUBLIC_ADDRESS, and Prometheus and Grafana against the files they mount.
 */
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { parse } from "yaml";
import { loadConfig } from "../../server/config.ts";
import { configVariables } from "../support/config-variables.ts";

const DIR = join(import.meta.dirname, "..", "..", "deploy", "compose");
type Service = { build?: unknown; image?: string; environment?: Record<string, string>; ports?: string[]; volumes?: string[]; depends_on?: unknown };
const compose = parse(readFileSync(join(DIR, "compose.yaml"), "utf8"), { merge: true }) as { services: Record<string, Service> };
const nginx = readFileSync(join(DIR, "nginx.conf"), "utf8");
const parleyServices = Object.entries(compose.services).filter(([, service]) => service.build !== undefined);

describe("the compose file", function () {
  it("runs MongoDB as an initialised replica set, Redis, two rooms nodes, one api node, the proxy, Prometheus and Grafana", function () {
    for (const name of ["mongo", "mongo-init", "redis", "rooms-1", "rooms-2", "api", "proxy", "prometheus", "grafana"]) assert.ok(compose.services[name], `service ${name}`);
    assert.deepEqual(parleyServices.map(([name, service]) => [name, service.environment?.ROLE]).sort(), [
      ["api", "api"],
      ["rooms-1", "rooms"],
      ["rooms-2", "rooms"],
    ]);
    assert.match(JSON.stringify(compose.services["mongo-init"]), /rs\.initiate/);
    for (const [name, service] of parleyServices) assert.match(service.environment!.MONGO_URL!, /replicaSet=rs0/, `${name} joins the replica set`);
  });

  it("gives every node only variables the node reads, with values its configuration accepts in production", function () {
    const known = configVariables();
    for (const [name, service] of parleyServices) {
      const environment = service.environment ?? {};
      for (const variable of Object.keys(environment)) assert.ok(known.has(variable), `${name} sets ${variable}, which server/config.ts does not read`);
      const config = loadConfig(environment);
      assert.equal(config.env, "production", name);
      assert.deepEqual(config.mongoWriteConcern, { w: "majority", j: true }, `${name} writes with w: majority`);
    }
  });

  it("routes each rooms node's PUBLIC_ADDRESS path to that node, and everything else to the api node", function () {
    for (const [name, service] of parleyServices) {
      const path = /\/[^/]+$/.exec(service.environment!.PUBLIC_ADDRESS!)?.[0];
      assert.ok(path, `${name} announces a path`);
      assert.match(nginx, new RegExp(`location ${path}/ \\{ proxy_pass http://${name}; \\}`), `nginx routes ${path}/ to ${name}`);
      assert.match(nginx, new RegExp(`upstream ${name} \\{ server ${name}:${service.environment!.PORT}; \\}`));
      assert.ok(service.environment!.PUBLIC_ADDRESS!.startsWith(`localhost:${compose.services.proxy!.ports![0]!.split(":")[0]}/`), "announces the proxy's published port");
    }
    assert.match(nginx, /location \/ \{ proxy_pass http:\/\/api; \}/);
    assert.match(nginx, /proxy_set_header Upgrade \$http_upgrade/);
    assert.match(nginx, /location \/metrics \{ return 404; \}/, "metrics stay off the public path");
  });

  it("scrapes every node with Prometheus and provisions Grafana from files in the repository", function () {
    const prometheus = parse(readFileSync(join(DIR, "prometheus.yml"), "utf8")) as { scrape_configs: Array<{ static_configs: Array<{ targets: string[] }> }> };
    const targets = prometheus.scrape_configs.flatMap((job) => job.static_configs.flatMap((config) => config.targets));
    assert.deepEqual(targets.sort(), parleyServices.map(([name, service]) => `${name}:${service.environment!.PORT}`).sort());
    for (const name of ["prometheus", "grafana", "proxy"]) {
      for (const volume of compose.services[name]!.volumes ?? []) {
        const source = resolve(DIR, volume.split(":")[0]!);
        assert.ok(existsSync(source), `${name} mounts ${volume}, and ${source} exists`);
      }
    }
    assert.ok(existsSync(resolve(dirname(DIR), "..", "Dockerfile")), "the build context has the Dockerfile");
  });
});
