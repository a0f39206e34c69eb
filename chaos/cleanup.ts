/**
 * Everything the fault suite makes outside its own memory — processes, network namespaces,
 * veth pairs, the bridge, packet-filter rules, tmpfs mounts, temp dirs — registers an undo
 * here as soon as it exists. Undos run last-made first: on close, on an error, at process
 * exit, and on SIGINT/SIGTERM (Ctrl-C). They are synchronous, so that they also run at exit.
 * Processes are only ever signalled by the PID we started, never by name.
 */
import { spawnSync } from 'node:child_process';

interface Undo {
  what: string;
  run: () => void;
}

const undos: Undo[] = [];
let installed = false;
let interruptedBy: NodeJS.Signals | undefined;

/** The signal that asked the suite to stop, if any: start no new scenario after it. */
export function interrupted(): NodeJS.Signals | undefined {
  return interruptedBy;
}

/** Registers an undo; the returned function runs it now (once) and forgets it. */
export function registerUndo(what: string, run: () => void): () => void {
  install();
  const undo: Undo = { what, run };
  undos.push(undo);
  return () => {
    const at = undos.indexOf(undo);
    if (at < 0) return;
    undos.splice(at, 1);
    runOne(undo);
  };
}

/** A mark to undo back to (`undoTo`): everything registered after it. */
export function undoMark(): number {
  return undos.length;
}

/** Runs the undos registered since `mark`, last registered first. */
export function undoTo(mark: number): void {
  while (undos.length > mark) runOne(undos.pop()!);
}

/** Runs every registered undo, last registered first. */
export function undoAll(): void {
  while (undos.length > 0) runOne(undos.pop()!);
}

function runOne(undo: Undo): void {
  try {
    undo.run();
  } catch (error) {
    process.stderr.write(`chaos: cleaning up ${undo.what} failed: ${(error as Error).message}\n`);
  }
}

function install(): void {
  if (installed) return;
  installed = true;
  process.on('exit', undoAll);
  const onSignal = (signal: NodeJS.Signals): void => {
    interruptedBy = signal;
    process.stderr.write(`\nchaos: ${signal}: stopping the processes it started and removing the namespaces, links, rules and mounts it made\n`);
    undoAll();
    process.exit(signal === 'SIGINT' ? 130 : 143);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
}

/** Runs a command; throws with its stderr when it fails. */
export function run(command: string, args: readonly string[]): string {
  const result = spawnSync(command, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  if (result.error) throw new Error(`${command} ${args.join(' ')}: ${result.error.message}`);
  if (result.status !== 0) throw new Error(`${command} ${args.join(' ')} exited with ${result.status ?? result.signal}: ${(result.stderr || result.stdout).trim()}`);
  return result.stdout;
}

/** Runs a command and reports only whether it succeeded (cleanups of what may be gone already). */
export function tryRun(command: string, args: readonly string[]): boolean {
  const result = spawnSync(command, args, { stdio: 'ignore' });
  return result.status === 0;
}
