import { existsSync } from 'node:fs';

/**
 * Ties a child process' life to the process that starts it, so that a test killed by SIGTERM,
 * SIGINT, `timeout` or SIGKILL leaves nothing behind (docs/architecture.md, "Processes a test
 * starts"). The kernel's parent-death signal (prctl PR_SET_PDEATHSIG, set by util-linux's
 * `setpriv --pdeathsig` before it execs the command, and kept across execve) kills the child the
 * moment its parent exits, however it exits: no cleanup hook has to run. `setpriv` execs in place,
 * so the pid, the process group and /proc/<pid>/cmdline are the command's own once it has started.
 *
 * Processes the lab CLI (`make up`) or `make kube-up` start must outlive the CLI, so the lab's and
 * the control plane's supervisors tie their children only in a process that asked for it:
 * `tieChildrenToThisProcess()`, which scripts/orphan-guard.mjs calls in every test process.
 * The mark lives on `globalThis`, not in the environment, so a CLI a test spawns does not inherit it.
 */

const setpriv = '/usr/bin/setpriv';
const tieMark = Symbol.for('recipe-mesh.tie-children');

/** From now on, the lab's and the control plane's processes started here die with this process. */
export function tieChildrenToThisProcess(): void {
  (globalThis as Record<symbol, unknown>)[tieMark] = true;
}

/** Whether this process asked for its supervised children to die with it. */
export function childrenTiedToThisProcess(): boolean {
  return (globalThis as Record<symbol, unknown>)[tieMark] === true;
}

/**
 * `command args…` wrapped so the child gets SIGKILL when this process exits; unchanged where
 * setpriv is missing (util-linux is essential on Debian; elsewhere the child simply is not tied).
 */
export function tiedCommand(command: string, args: string[]): { command: string; args: string[] } {
  if (!existsSync(setpriv)) return { command, args };
  return { command: setpriv, args: ['--pdeathsig', 'KILL', '--', command, ...args] };
}

/** `tiedCommand` when this process asked for tied children, else the command as it is. */
export function supervisedCommand(command: string, args: string[]): { command: string; args: string[] } {
  return childrenTiedToThisProcess() ? tiedCommand(command, args) : { command, args };
}

/** True for a /proc cmdline of `binary`, or of setpriv in the instant before it execs `binary`. */
export function cmdlineRuns(cmdline: string, binary: string): boolean {
  const argv = cmdline.split('\0');
  return argv[0] === binary || (argv[0] === setpriv && argv.includes(binary));
}
