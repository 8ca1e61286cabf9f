/**
 * A local Parley cluster: N nodes on one machine against one Redis and one history store, each
 * announcing its own address (PUBLIC_ADDRESS). Humans run `npm run cluster -- --nodes 3`; tests and
 * the chaos harness call startCluster().
 *
 * Redis and the store come from REDIS_URL / MONGO_URL, or are started here (redis-server, and
 * mongod or FerretDB) on free ports.
 */
import { commandLine } from "./cli.ts";
import type { Role } from "../server/config.ts";
import { freePort, startMongoWire, startRedis, type Service } from "./services.ts";
import { startNode, type NodeProcess } from "./node-process.ts";

export type ClusterNode = NodeProcess & { role: Role; publicAddress: string; name: string };

export type ClusterOptions = {
  /** Room-hosting nodes (ROLE=all, or ROLE=rooms when `api` > 0). @default 3 */
  nodes?: number;
  /** Extra ROLE=api nodes (matchmaking and HTTP only). @default 0 */
  api?: number;
  redisUrl: string;
  mongoUrl?: string;
  /** Environment for every node (JWT_SECRET, ROOM_LEASE_MS, LOG_LEVEL, ...). */
  env?: Record<string, string | undefined>;
  /** The address a node announces, given its port and its index among started nodes. @default 127.0.0.1:<port> */
  publicAddressFor?: (port: number, index: number) => Promise<string> | string;
  /** Every line a node prints, with the node's name. */
  onNodeLine?: (name: string, line: string) => void;
  /** Run the nodes from another checkout of Parley (an earlier release); `restart` can change it per node. */
  root?: string;
};

export type Cluster = {
  nodes: ClusterNode[];
  /** Nodes that host rooms. */
  hosts(): ClusterNode[];
  /** Start one more node (a deploy's replacement, say). */
  addNode(role?: Role): Promise<ClusterNode>;
  /**
   * One step of a rolling restart in place: SIGTERM `node` and wait for its drain (nothing if it
   * already exited), then start a new process with the same port, PUBLIC_ADDRESS, role and name, so
   * clients' endpoint lists and a page's CSP stay valid. The new process takes the old one's place
   * in `nodes`. `root`: run the new process from that checkout (an upgrade), else the cluster's.
   */
  restart(node: ClusterNode, root?: string): Promise<ClusterNode>;
  /** SIGTERM every node still running and wait for it. */
  stop(): Promise<void>;
};

/** Start a cluster of real node processes. */
export async function startCluster(options: ClusterOptions): Promise<Cluster> {
  const { nodes: hostCount = 3, api = 0 } = options;
  const nodes: ClusterNode[] = [];
  let started = 0;

  /** Start a node process with the cluster's environment and this node's own settings. */
  async function launch(port: number, publicAddress: string, role: Role, name: string, root = options.root): Promise<ClusterNode> {
    const node = await startNode(
      {
        LOG_LEVEL: "warn",
        ...options.env,
        PORT: String(port),
        PUBLIC_ADDRESS: publicAddress,
        ROLE: role,
        REDIS_URL: options.redisUrl,
        MONGO_URL: options.mongoUrl,
      },
      options.onNodeLine && ((line) => options.onNodeLine!(name, line)),
      root,
    );
    return Object.assign(node, { role, publicAddress, name });
  }

  async function addNode(role: Role = api > 0 ? "rooms" : "all"): Promise<ClusterNode> {
    const port = await freePort();
    const index = started++;
    const publicAddress = options.publicAddressFor ? await options.publicAddressFor(port, index) : `127.0.0.1:${port}`;
    const member = await launch(port, publicAddress, role, `${role}-${index + 1}`);
    nodes.push(member);
    return member;
  }

  async function restart(node: ClusterNode, root?: string): Promise<ClusterNode> {
    const index = nodes.indexOf(node);
    if (index < 0) throw new Error(`${node.name} is not a running node of this cluster`);
    await node.stop();
    const member = await launch(node.port, node.publicAddress, node.role, node.name, root);
    nodes[index] = member;
    return member;
  }

  try {
    await Promise.all([...Array.from({ length: api }, () => addNode("api")), ...Array.from({ length: hostCount }, () => addNode())]);
  } catch (error) {
    await Promise.all(nodes.map((node) => node.stop()));
    throw error;
  }
  return {
    nodes,
    addNode,
    restart,
    hosts: () => nodes.filter((node) => node.role !== "api"),
    stop: async () => {
      await Promise.all(nodes.map((node) => node.stop()));
    },
  };
}

async function main(): Promise<void> {
  const values = commandLine({
    usage: "npm run cluster --",
    summary:
      "A local Parley cluster: N room-hosting nodes (and optional api nodes) on one Redis and one history store, started for you unless REDIS_URL / MONGO_URL are set. Every node gets your environment (MONITOR_PASSWORD, JWT_SECRET, limits, ...); each announces its own address. Ctrl-C stops it.",
    options: {
      nodes: { kind: "integer", default: 3, min: 1, max: 32, help: "room-hosting nodes (ROLE=all, or ROLE=rooms with --api)" },
      api: { kind: "integer", default: 0, min: 0, max: 8, help: "api nodes in front of them (matchmaking and HTTP, no rooms)" },
      "jwt-secret": { kind: "string", help: "JWT_SECRET for every node (else $JWT_SECRET, else development identities)" },
      logs: { kind: "boolean", help: "print every node's log lines, each prefixed with its node" },
    },
    examples: ["npm run cluster -- --nodes 2 --api 1", "MONITOR_PASSWORD=a-long-password-123 npm run cluster -- --logs"],
  });
  const services: Service[] = [];
  const say = (line: string) => console.log(`[cluster] ${line}`);
  let redisUrl = process.env.REDIS_URL;
  let mongoUrl = process.env.MONGO_URL;
  if (!redisUrl) {
    const redis = await startRedis();
    services.push(redis);
    redisUrl = redis.url;
    say(`started redis-server at ${redisUrl}`);
  }
  if (!mongoUrl) {
    const mongo = await startMongoWire(say);
    services.push(mongo);
    mongoUrl = mongo.url;
    say(`started ${mongo.kind} at ${mongoUrl}`);
  }
  const cluster = await startCluster({
    nodes: Number(values.nodes),
    api: Number(values.api),
    redisUrl,
    mongoUrl,
    // The caller's environment reaches every node; the launcher sets only each node's own address, role and services.
    env: { ...process.env, LOG_LEVEL: process.env.LOG_LEVEL ?? "info", JWT_SECRET: values["jwt-secret"] ?? process.env.JWT_SECRET },
    onNodeLine: values.logs ? (name, line) => console.log(`[${name}] ${line}`) : undefined,
  });
  for (const node of cluster.nodes) say(`${node.name}: ${node.httpUrl} (ROLE=${node.role}, announces ${node.publicAddress})`);
  say("any node seats anyone in any conversation; Ctrl-C stops the cluster");

  const stop = async () => {
    say("stopping");
    await cluster.stop();
    await Promise.all(services.map((service) => service.stop()));
    process.exit(0);
  };
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
