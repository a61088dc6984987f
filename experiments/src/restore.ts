/**
 * Everything a run changes is undone in reverse order: app faults, mesh knobs, Redis config, a
 * lab the runner started. The stack also runs on Ctrl-C / SIGTERM and on failures, so a broken
 * run never leaves a fault behind for the next person.
 */
export class RestoreStack {
  private readonly steps: { label: string; undo: () => Promise<void> }[] = [];
  private readonly inFlight = new Set<Promise<unknown>>();
  private restoring = false;
  private running: Promise<string[]> | null = null;

  push(label: string, undo: () => Promise<void>): void {
    this.steps.push({ label, undo });
  }

  /**
   * Makes a change that `undo` reverts. The undo is recorded before the change starts and a
   * restore waits for changes in flight: a Ctrl-C landing while a `PUT /faults` is on the wire
   * otherwise restored everything but that fault, which then stayed on. Once restoring has begun,
   * new changes are refused, because the run is being torn down underneath them.
   */
  async change(label: string, undo: () => Promise<void>, apply: () => Promise<void>): Promise<void> {
    if (this.restoring) throw new Error(`not applying "${label}": the run is being restored`);
    this.push(label, undo);
    const applying = apply();
    this.inFlight.add(applying);
    try {
      await applying;
    } finally {
      this.inFlight.delete(applying);
    }
  }

  get size(): number {
    return this.steps.length;
  }

  /** Runs every undo step, newest first; never throws. Returns the failures, one line each. */
  restoreAll(log: (line: string) => void = () => {}): Promise<string[]> {
    this.running ??= (async () => {
      this.restoring = true;
      await Promise.allSettled([...this.inFlight]);
      const failures: string[] = [];
      while (this.steps.length) {
        const step = this.steps.pop()!;
        try {
          await step.undo();
          log(`restored: ${step.label}`);
        } catch (error) {
          failures.push(`${step.label}: ${error instanceof Error ? error.message : String(error)}`);
        }
      }
      this.running = null;
      return failures;
    })();
    return this.running;
  }

  /**
   * On SIGINT/SIGTERM: restore, then exit 130/143. Returns a function removing the handlers.
   * A second signal while restoring exits at once (the person insists).
   */
  restoreOnSignals(log: (line: string) => void, exit: (code: number) => void = (c) => process.exit(c)): () => void {
    let restoring = false;
    const handler = (signal: NodeJS.Signals) => {
      if (restoring) return exit(signal === 'SIGINT' ? 130 : 143);
      restoring = true;
      log(`${signal}: restoring everything this run changed…`);
      void this.restoreAll(log).then((failures) => {
        for (const f of failures) log(`restore failed: ${f}`);
        exit(signal === 'SIGINT' ? 130 : 143);
      });
    };
    process.on('SIGINT', handler);
    process.on('SIGTERM', handler);
    return () => {
      process.off('SIGINT', handler);
      process.off('SIGTERM', handler);
    };
  }
}
