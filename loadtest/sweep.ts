/**
 * One sweep of one system: seat the members, warm up, then step the open-loop send rate up until a
 * step fails (p99 over the limit, or too few deliveries), measuring latency and the CPU of both sides.
 */
import { cpuMicros, machineBusyMicros, peakRssMb } from "./server-process.ts";
import { createMeter, drain, percentilesMs, sendOpenLoop, type Connector, type Member, type MemberEvents, type Seating } from "./workload.ts";

export type SweepOptions = {
  conversations: number;
  membersPerConversation: number;
  textBytes: number;
  ratesPerSec: number[];
  warmupMs: number;
  stepMs: number;
  drainMs: number;
  p99LimitMs: number;
  minDeliveredRatio: number;
  /** Called after each step, for progress lines. */
  onStep?: (step: StepResult) => void;
};

/** What one step at one send rate measured. */
export type StepResult = {
  ratePerSec: number;
  sentPerSec: number;
  deliveriesPerSec: number;
  deliveredRatio: number;
  delivery: { p50: number; p95: number; p99: number; max: number };
  ack: { p50: number; p95: number; p99: number; max: number } | undefined;
  errors: Record<string, number>;
  /** Server CPU while sending, % of its core (store included for durable Parley). */
  serverCpuPct: number;
  /** Server CPU from the step's start until its deliveries drained, per delivery (the store's included). */
  serverCpuUsPerDelivery: number;
  /** Of serverCpuUsPerDelivery, what the durable store's process used (0 without one). */
  storeCpuUsPerDelivery: number;
  /** This process's CPU while sending, % of its core. */
  loadgenCpuPct: number;
  /** CPU every other process on the machine used while sending, % of one core: noise from neighbours. */
  otherCpuPct: number;
  passed: boolean;
  /** The step was measured again because neighbours were busy when it first failed. */
  repeatedAfterNoise?: boolean;
  /**
   * The step's span on the monotonic clock, µs (start until its deliveries drained): V8's CPU
   * profiles stamp samples on the same clock, so a profile can be cut to the measured steps.
   */
  monotonicUs: [number, number];
};

export function cpuOrZero(pid: number | undefined): number {
  if (pid === undefined) return 0;
  try {
    return cpuMicros(pid);
  } catch {
    return 0;
  }
}

/** Now on CLOCK_MONOTONIC in µs, the clock V8 stamps profile samples with. */
const monotonicUs = () => Number(process.hrtime.bigint() / 1000n);

/** Neighbours' CPU (% of one core) above which a failed step is measured once more. */
const NOISY_NEIGHBOURS_PCT = 50;

export type SweepResult = { steps: StepResult[]; serverRssMb: number; connectMs: number };

/** Run `tasks` with at most `limit` in flight. */
export async function inBatches<T>(tasks: Array<() => Promise<T>>, limit: number): Promise<T[]> {
  const results: T[] = new Array(tasks.length);
  let next = 0;
  const worker = async () => {
    while (next < tasks.length) {
      const index = next++;
      results[index] = await tasks[index]!();
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, tasks.length) }, worker));
  return results;
}

/** The code a failed join names ("FORBIDDEN: ..." from Parley), or JOIN_FAILED. */
function joinErrorCode(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return `JOIN_${/^[A-Z_]{3,}(?=:)/.exec(message)?.[0] ?? "FAILED"}`;
}

/** Tries per member before a join counts as failed: a slow seat reservation under load is retried. */
const JOIN_ATTEMPTS = 3;

/**
 * Seat `membersPerConversation` members in each conversation; the first of each joins first, so each
 * room is created once. A join failing JOIN_ATTEMPTS times is reported to `events.onError` and leaves its seat empty.
 */
export async function seatMembers(connector: Connector, conversations: number, membersPerConversation: number, events: MemberEvents): Promise<Seating> {
  const seating: Seating = Array.from({ length: conversations }, () => []);
  const join = (conversation: number, user: number) => async () => {
    for (let attempt = 1; ; attempt++) {
      try {
        return void seating[conversation]!.push(await connector(conversation, user, events));
      } catch (error) {
        if (attempt < JOIN_ATTEMPTS) continue;
        events.onError(joinErrorCode(error));
        return;
      }
    }
  };
  const conversationIds = [...Array(conversations).keys()];
  await inBatches(
    conversationIds.map((c) => join(c, 0)),
    20,
  );
  await inBatches(
    conversationIds.flatMap((c) => Array.from({ length: membersPerConversation - 1 }, (_, u) => join(c, u + 1))),
    50,
  );
  return seating;
}

/** Close every member, waiting at most `timeoutMs`. */
export async function closeMembers(members: Member[], timeoutMs = 5000): Promise<void> {
  await Promise.race([Promise.all(members.map((member) => member.close().catch(() => undefined))), new Promise((resolve) => setTimeout(resolve, timeoutMs))]);
}

/** Wait, at most `timeoutMs`, until other processes use under half a core for a whole second. */
async function waitForQuietNeighbours(serverCpu: () => number, timeoutMs: number): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (performance.now() < deadline) {
    const [machine, server, own] = [machineBusyMicros(), serverCpu(), process.cpuUsage()];
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const ownUs = process.cpuUsage(own);
    const othersUs = machineBusyMicros() - machine - (serverCpu() - server) - ownUs.user - ownUs.system;
    if (othersUs < 500_000) return;
  }
}

/** What a sweep needs of a started system: its server's pid, its store's, and how to connect. */
export type SweptSystem = { server: { pid: number }; storePids(): number[]; connector: Connector };

/** Sweep the rates against a started system; the caller stops the system. */
export async function sweep(system: SweptSystem, options: SweepOptions): Promise<SweepResult> {
  const meter = createMeter();
  const connectStarted = performance.now();
  const seating = await seatMembers(system.connector, options.conversations, options.membersPerConversation, meter.events);
  const connectMs = performance.now() - connectStarted;
  if (meter.errors.size > 0) {
    await closeMembers(seating.flat());
    throw new Error(`joins failed: ${JSON.stringify(Object.fromEntries(meter.errors))}`);
  }
  // The store's processes are listed at each step's start and read again at its end.
  let storePids = system.storePids();
  // A store process that went away (a PostgreSQL backend closed) counts nothing.
  const storeCpu = () => storePids.reduce((sum, pid) => sum + cpuOrZero(pid), 0);
  const serverCpu = () => cpuMicros(system.server.pid) + storeCpu();
  const steps: StepResult[] = [];
  const measureStep = async (ratePerSec: number): Promise<StepResult> => {
    meter.reset();
    const started = performance.now();
    const monotonicStart = monotonicUs();
    storePids = system.storePids();
    const serverCpuBefore = serverCpu();
    const storeCpuBefore = storeCpu();
    const loadgenCpuBefore = process.cpuUsage();
    const machineBefore = machineBusyMicros();
    await sendOpenLoop(seating, meter, { ratePerSec, durationMs: options.stepMs, textBytes: options.textBytes });
    const sendSeconds = (performance.now() - started) / 1000;
    const serverCpuSendingUs = serverCpu() - serverCpuBefore;
    const loadgenCpuSending = process.cpuUsage(loadgenCpuBefore);
    const machineSendingUs = machineBusyMicros() - machineBefore;
    await drain(meter, options.drainMs);
    const serverCpuUs = serverCpu() - serverCpuBefore;
    const storeCpuUs = storeCpu() - storeCpuBefore;
    const delivery = percentilesMs(meter.delivery);
    const deliveredRatio = meter.expected === 0 ? 0 : meter.delivered / meter.expected;
    const loadgenCpuUs = loadgenCpuSending.user + loadgenCpuSending.system;
    return {
      ratePerSec,
      sentPerSec: meter.sent / sendSeconds,
      deliveriesPerSec: meter.delivered / sendSeconds,
      deliveredRatio,
      delivery,
      ack: meter.ack.count > 0 ? percentilesMs(meter.ack) : undefined,
      errors: Object.fromEntries(meter.errors),
      serverCpuPct: (serverCpuSendingUs / (sendSeconds * 1e6)) * 100,
      serverCpuUsPerDelivery: meter.delivered === 0 ? Number.NaN : serverCpuUs / meter.delivered,
      storeCpuUsPerDelivery: meter.delivered === 0 ? Number.NaN : storeCpuUs / meter.delivered,
      loadgenCpuPct: (loadgenCpuUs / (sendSeconds * 1e6)) * 100,
      otherCpuPct: Math.max(0, ((machineSendingUs - serverCpuSendingUs - loadgenCpuUs) / (sendSeconds * 1e6)) * 100),
      passed: delivery.p99 <= options.p99LimitMs && deliveredRatio >= options.minDeliveredRatio,
      monotonicUs: [monotonicStart, monotonicUs()],
    };
  };
  try {
    meter.reset();
    await sendOpenLoop(seating, meter, { ratePerSec: options.ratesPerSec[0]!, durationMs: options.warmupMs, textBytes: options.textBytes });
    await drain(meter, options.drainMs);

    for (const ratePerSec of options.ratesPerSec) {
      let step = await measureStep(ratePerSec);
      // On a shared machine a neighbour's burst can fail a step the server would pass: repeat once.
      if (!step.passed && step.otherCpuPct > NOISY_NEIGHBOURS_PCT) {
        await waitForQuietNeighbours(serverCpu, 15_000);
        step = { ...(await measureStep(ratePerSec)), repeatedAfterNoise: true };
      }
      steps.push(step);
      options.onStep?.(step);
      if (!step.passed) break;
    }
    return { steps, serverRssMb: peakRssMb(system.server.pid), connectMs };
  } finally {
    await closeMembers(seating.flat());
  }
}
