/**
 * Liveness, readiness and startup state for the admin probes.
 *
 * - live: the process and its event loop answer (the probe handler running proves it).
 * - ready: every registered readiness check passes and no shutdown has begun. Services decide which
 *   dependencies are *required*: a dependency that degrades gracefully must not be one, or a slow
 *   dependency takes every replica out of the load balancer at once.
 * - started: initial work (seeding) is done.
 */
export type Check = () => boolean | Promise<boolean>;

export class Health {
  private started = false;
  private shuttingDown = false;
  private forcedUnready = false;
  private readonly readinessChecks = new Map<string, Check>();
  private readonly listeners = new Set<(ready: boolean) => void>();

  markStarted(): void {
    this.started = true;
    this.notify();
  }
  isStarted(): boolean {
    return this.started;
  }
  markShuttingDown(): void {
    this.shuttingDown = true;
    this.notify();
  }
  isShuttingDown(): boolean {
    return this.shuttingDown;
  }
  /** The `unready` fault. */
  setForcedUnready(value: boolean): void {
    this.forcedUnready = value;
    this.notify();
  }
  addReadinessCheck(name: string, check: Check): void {
    this.readinessChecks.set(name, check);
  }
  /** Called when readiness may have changed (e.g. gRPC health service mirrors it). */
  onChange(listener: (ready: boolean) => void): void {
    this.listeners.add(listener);
  }

  async readiness(): Promise<{ ready: boolean; checks: Record<string, boolean> }> {
    const checks: Record<string, boolean> = {
      started: this.started,
      not_shutting_down: !this.shuttingDown,
      not_forced_unready: !this.forcedUnready,
    };
    for (const [name, check] of this.readinessChecks) {
      try {
        checks[name] = await check();
      } catch {
        checks[name] = false;
      }
    }
    return { ready: Object.values(checks).every(Boolean), checks };
  }

  private notify(): void {
    void this.readiness().then(({ ready }) => this.listeners.forEach((l) => l(ready)));
  }
}
