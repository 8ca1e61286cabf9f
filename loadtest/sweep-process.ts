/**
 * One sweep in a fresh load-generator process: the benchmark forks this file for each system's
 * sweep, so no system is measured by a process that earlier systems' clients have already shaped
 * (its heap, its compiled code, its sockets' garbage).
 *
 * Why: in one long-lived load generator, the system measured second or third read up to 2.6-7 µs a
 * delivery dearer than the same system measured first (docs/measurements.md, fifteenth session),
 * more than most code changes move it. Rotating the order and collecting garbage between systems
 * only reduced that.
 *
 * The child inherits the parent's CPU affinity (the load generator's core), rebuilds the system's
 * connector from its name and endpoint, sends each step to the parent as it is measured, then the
 * result, and exits.
 */
import { fork } from "node:child_process";
import { sweep, type StepResult, type SweepOptions, type SweepResult } from "./sweep.ts";
import { connectorFor, listStoreProcesses, type StoreProcesses, type SystemName } from "./systems.ts";

/** What the parent asks of the child: everything but the progress callback, which stays with the parent. */
type SweepJob = { name: SystemName; endpoint: string; serverPid: number; store: StoreProcesses; options: Omit<SweepOptions, "onStep"> };
type ChildReport = { ready: true } | { step: StepResult } | { result: SweepResult } | { error: string };

/** Sweep a started system from a fresh child process; `options.onStep` is called here, in the parent. */
export function sweepInChild(job: SweepJob & { options: SweepOptions }): Promise<SweepResult> {
  const { onStep, ...options } = job.options;
  const child = fork(import.meta.filename, [], { stdio: ["ignore", "inherit", "inherit", "ipc"] });
  return new Promise<SweepResult>((resolve, reject) => {
    let settled: SweepResult | Error | undefined;
    child.on("message", (report: ChildReport) => {
      // The job goes once the child listens: a message sent before that would be lost.
      if ("ready" in report) child.send({ ...job, options } satisfies SweepJob);
      else if ("step" in report) onStep?.(report.step);
      else if ("result" in report) settled = report.result;
      else settled = new Error(report.error);
    });
    child.once("error", reject);
    child.once("exit", (code, signal) => {
      if (settled instanceof Error) reject(settled);
      else if (settled !== undefined) resolve(settled);
      else reject(new Error(`the load generator's sweep process exited (${signal ?? `code ${code}`}) without a result`));
    });
  });
}

/** The child: one message with the job, then reports until the sweep ends. */
async function runJob(job: SweepJob): Promise<void> {
  const send = (report: ChildReport) => new Promise<void>((resolve) => process.send!(report, () => resolve()));
  try {
    const result = await sweep(
      { server: { pid: job.serverPid }, storePids: () => listStoreProcesses(job.store), connector: connectorFor(job.name, job.endpoint) },
      { ...job.options, onStep: (step) => void send({ step }) },
    );
    await send({ result });
  } catch (error) {
    await send({ error: error instanceof Error ? error.message : String(error) });
  }
  // Clients' timers and sockets may linger after closing; the sweep is over, so is the process.
  process.exit(0);
}

if (process.send !== undefined && process.argv[1] === import.meta.filename) {
  process.once("message", (job: SweepJob) => void runJob(job));
  // A bench that is gone (killed, interrupted) takes its sweep with it, rather than leave this
  // process loading the machine.
  process.once("disconnect", () => process.exit(1));
  process.send({ ready: true } satisfies ChildReport);
}
