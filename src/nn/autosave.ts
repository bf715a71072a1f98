// Crash safety for long runs (`npm run train`, `npm run exp`): a checkpoint on a time budget, so a
// kill -9 loses at most that much work, and on SIGINT/SIGTERM a checkpoint at the next step
// boundary, the resume command printed and the process exited (128 + signal number). A second
// signal exits at once; the checkpoint on disk stays the last complete one (writes are atomic).
// Outside a training loop a signal prints the resume command and exits: finished work is on disk.
// Node-only (process signals).

/** Default seconds of training between checkpoints (at most about this much work is lost to a kill). */
export const DEFAULT_AUTOSAVE_SECONDS = 30;

/**
 * The checkpoint period in seconds: `METAGRAD_AUTOSAVE_SECONDS` when set (0 = after every step),
 * else `fallback` (default {@link DEFAULT_AUTOSAVE_SECONDS}).
 */
export function autosaveSeconds(fallback = DEFAULT_AUTOSAVE_SECONDS): number {
  const env = process.env.METAGRAD_AUTOSAVE_SECONDS;
  if (env === undefined || env === "") return fallback;
  const v = Number(env);
  if (!(v >= 0)) throw new Error(`METAGRAD_AUTOSAVE_SECONDS must be a number of seconds >= 0, got "${env}"`);
  return v;
}

/** Options of {@link Autosave}. */
export interface AutosaveOptions {
  /** Writes the checkpoint (atomically) with everything needed to resume exactly. */
  save: () => Promise<void>;
  /** Seconds of work between checkpoints (default {@link autosaveSeconds}()); 0 = after every step. */
  everySeconds?: number;
  /** The command that continues the run, printed when a signal stops it. */
  resumeCommand: string;
  /** Where notices go (default stderr). */
  log?: (line: string) => void;
}

const SIGNALS = { SIGINT: 2, SIGTERM: 15 } as const;
type SignalName = keyof typeof SIGNALS;

/** The loop that can checkpoint now, if any, and the resume command for signals outside loops. */
let active: Autosave | null = null;
let fallback: { resumeCommand: string; log: (line: string) => void } | null = null;
let installed = false;

function onSignal(sig: SignalName): void {
  if (active && !active.stopping) {
    active.requestStop(sig);
    return;
  }
  const log = active?.log ?? fallback?.log ?? ((l: string) => process.stderr.write(`${l}\n`));
  const again = active?.stopping ? "again: exiting now; the last complete checkpoint stays valid" : "";
  const resume = active?.resumeCommand ?? fallback?.resumeCommand;
  log(`${sig} ${again || "received outside a training step: finished work is saved"}` +
    (resume ? `; resume with: ${resume}` : ""));
  process.exit(128 + SIGNALS[sig]);
}

function install(): void {
  if (installed) return;
  installed = true;
  for (const sig of Object.keys(SIGNALS) as SignalName[]) process.on(sig, () => onSignal(sig));
}

/**
 * Handles SIGINT/SIGTERM for the rest of the process: inside a loop with an open {@link Autosave}
 * the loop checkpoints and exits at its next step; elsewhere the signal prints `resumeCommand`
 * and exits (128 + signal number). Called by every Autosave; call it early to cover setup too.
 */
export function handleInterrupts(resumeCommand: string, log: (line: string) => void = (l) => process.stderr.write(`${l}\n`)): void {
  fallback = { resumeCommand, log };
  install();
}

/**
 * Checkpoints a training loop on a time budget and at once (the next step boundary) on
 * SIGINT/SIGTERM. Call {@link afterStep} after every completed step, {@link saved} when the loop
 * wrote a checkpoint for its own reasons, and {@link close} when the loop ends. Creating one
 * installs process-wide SIGINT/SIGTERM handlers for the rest of the process (see
 * {@link handleInterrupts}); after a signal, afterStep() exits the process (128 + signal number).
 */
export class Autosave {
  /** Seconds of work between checkpoints (0: after every step). */
  readonly everySeconds: number;
  /** Printed when a signal stops the loop. */
  readonly resumeCommand: string;
  /** Where the notices go. */
  readonly log: (line: string) => void;
  #save: () => Promise<void>;
  #last = performance.now();
  #signal: SignalName | null = null;
  #stopping = false;

  constructor(opts: AutosaveOptions) {
    this.everySeconds = opts.everySeconds ?? autosaveSeconds();
    if (!(this.everySeconds >= 0)) throw new Error(`Autosave: everySeconds must be >= 0, got ${this.everySeconds}`);
    this.resumeCommand = opts.resumeCommand;
    this.log = opts.log ?? ((l) => process.stderr.write(`${l}\n`));
    this.#save = opts.save;
    if (!fallback) fallback = { resumeCommand: this.resumeCommand, log: this.log };
    install();
    active = this;
  }

  /** True once a signal arrived and the loop is checkpointing before it exits. */
  get stopping(): boolean {
    return this.#stopping;
  }

  /** Records a signal; the checkpoint and exit happen at the next {@link afterStep}. */
  requestStop(sig: SignalName): void {
    this.#signal = sig;
    this.log(`${sig}: checkpointing after the current step (again to exit at once)`);
  }

  /**
   * Call after each completed step: checkpoints when the time budget is used up, or, after a
   * signal, checkpoints, prints the resume command and exits the process.
   */
  async afterStep(): Promise<void> {
    if (this.#signal) {
      this.#stopping = true;
      await this.#save();
      this.log(`${this.#signal}: checkpoint saved; resume with: ${this.resumeCommand}`);
      process.exit(128 + SIGNALS[this.#signal]);
    }
    if ((performance.now() - this.#last) / 1000 >= this.everySeconds) {
      await this.#save();
      this.saved();
    }
  }

  /** Restarts the time budget (the loop just wrote a checkpoint itself). */
  saved(): void {
    this.#last = performance.now();
  }

  /** Ends the loop: signals from now on exit with the process-wide resume command. */
  close(): void {
    if (active === this) active = null;
  }
}
