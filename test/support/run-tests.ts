/**
 * `npm test`: typecheck, lint and format check, provision Redis and a MongoDB-wire server (unless REDIS_URL / MONGO_URL are
 * given), then run every mocha suite against them. Stops with an error naming what to install when
 * a service cannot be provisioned.
 */
import { spawn } from "node:child_process";
import { startFerretdbOnPostgres, startMongoWire, startRedis, type Service } from "../../deploy/services.ts";

const say = (line: string) => console.log(`[npm test] ${line}`);

function run(command: string, args: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { stdio: "inherit", env });
    child.once("exit", (code, signal) => resolve(code ?? (signal ? 1 : 0)));
  });
}

const started: Service[] = [];
let exitCode = 1;
try {
  say("typecheck (tsc --noEmit)");
  if ((await run("tsc", ["--noEmit", "-p", "tsconfig.json"])) !== 0) throw new Error("typecheck failed");
  // The browser pages (console, demo) against the DOM's types.
  if ((await run("tsc", ["--noEmit", "-p", "pages/tsconfig.json"])) !== 0) throw new Error("typecheck of pages/ failed");
  say("lint and format check (biome check)");
  if ((await run("biome", ["check", "."])) !== 0) throw new Error("lint or format check failed: npm run lint shows it, npm run format fixes the formatting");

  const env = { ...process.env };
  if (!env.REDIS_URL) {
    const redis = await startRedis();
    started.push(redis);
    env.REDIS_URL = redis.url;
    say(`started redis-server at ${redis.url}`);
  } else say(`using REDIS_URL=${env.REDIS_URL}`);
  let storeKeepsUp = Boolean(env.MONGO_URL);
  if (!env.MONGO_URL) {
    const mongo = await startMongoWire(say);
    started.push(mongo);
    env.MONGO_URL = mongo.url;
    storeKeepsUp = mongo.kind === "mongod";
    say(`started ${mongo.kind} at ${mongo.url}`);
  } else say(`using MONGO_URL=${env.MONGO_URL}`);

  const specs = process.argv.slice(2);
  const soakWanted = specs.length === 0 || specs.some((spec) => spec.includes("soak"));
  // The soak's short form needs a store that keeps up with its churn for minutes: mongod or a
  // given MONGO_URL, else FerretDB on the machine's PostgreSQL; without one it says why and skips.
  if (soakWanted && !env.SOAK_MONGO_URL) {
    if (storeKeepsUp) env.SOAK_MONGO_URL = env.MONGO_URL;
    else {
      const onPostgres = await startFerretdbOnPostgres(undefined, say);
      if (onPostgres.service) {
        started.push(onPostgres.service);
        env.SOAK_MONGO_URL = onPostgres.service.url;
        say(`started FerretDB on PostgreSQL at ${onPostgres.service.url} for the soak`);
      } else say(`no store for the soak: ${onPostgres.reason}`);
    }
  }
  exitCode = await run(
    "mocha",
    specs.length > 0
      ? specs
      : ["test/unit/**/*.test.ts", "test/contract/**/*.test.ts", "test/integration/**/*.test.ts", "test/cluster/**/*.test.ts", "test/chaos/**/*.test.ts", "test/soak/**/*.test.ts"],
    env,
  );
} catch (error) {
  console.error(`[npm test] ${error instanceof Error ? error.message : String(error)}`);
  exitCode = 1;
} finally {
  await Promise.all(started.map((service) => service.stop()));
}
process.exit(exitCode);
