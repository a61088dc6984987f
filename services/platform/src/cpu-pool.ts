import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';

/**
 * A small worker-thread pool for CPU-heavy work, so it never blocks the event loop every other
 * request (and every Redis reply) waits on: the fix of docs/experiments.md "event-loop-block".
 * Production code would hand its real work to a pool such as piscina; the only CPU-heavy work in
 * this repo is the `cpuBurnMs` fault, so the pool runs that, with the same busy-wait as
 * `burnCpu` (faults.ts). Workers start on first use and are unref'd: an idle pool never keeps a
 * process from exiting.
 */

/** The worker: busy-waits the requested milliseconds, then answers. Inline, so it needs no build step or loader. */
const workerSource = `
const { parentPort } = require('node:worker_threads');
parentPort.on('message', (ms) => {
  const until = performance.now() + ms;
  while (performance.now() < until) {}
  parentPort.postMessage(ms);
});
`;

interface Task {
  ms: number;
  resolve: () => void;
  reject: (error: Error) => void;
}

export class CpuPool {
  private readonly idle: Worker[] = [];
  private readonly busy = new Map<Worker, Task>();
  private readonly queue: Task[] = [];
  private started = 0;

  /** One thread less than the cores (the event loop keeps one), at least 1 and at most 4. */
  constructor(readonly size = Math.max(1, Math.min(4, availableParallelism() - 1))) {}

  burn(ms: number): Promise<void> {
    return new Promise((resolve, reject) => {
      this.queue.push({ ms, resolve, reject });
      this.dispatch();
    });
  }

  /** Stops every worker; queued and running burns fail. */
  async close(): Promise<void> {
    const workers = [...this.idle, ...this.busy.keys()];
    for (const task of [...this.queue, ...this.busy.values()]) task.reject(new Error('cpu pool closed'));
    this.queue.length = 0;
    this.idle.length = 0;
    this.busy.clear();
    this.started = 0;
    await Promise.all(workers.map((w) => w.terminate()));
  }

  private dispatch(): void {
    while (this.queue.length > 0) {
      const worker = this.idle.pop() ?? (this.started < this.size ? this.spawn() : undefined);
      if (!worker) return;
      const task = this.queue.shift()!;
      this.busy.set(worker, task);
      worker.ref();
      worker.postMessage(task.ms);
    }
  }

  private spawn(): Worker {
    this.started++;
    const worker = new Worker(workerSource, { eval: true });
    worker.unref();
    worker.on('message', () => {
      const task = this.busy.get(worker);
      this.busy.delete(worker);
      worker.unref();
      this.idle.push(worker);
      task?.resolve();
      this.dispatch();
    });
    worker.on('error', (error) => {
      const task = this.busy.get(worker);
      this.busy.delete(worker);
      this.started--;
      task?.reject(error);
      this.dispatch();
    });
    return worker;
  }
}

let shared: CpuPool | undefined;

/** The process' one pool, created on first use. */
export function cpuPool(): CpuPool {
  shared ??= new CpuPool();
  return shared;
}
