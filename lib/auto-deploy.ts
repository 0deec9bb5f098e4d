/**
 * The CLI's redeploys: on a change to the config file or a file it references (when
 * watching), and on SIGHUP (always). Each outcome is one line on stdout, or the config's
 * problems (compiler style, one per line) and one line on stderr; a refused deploy leaves
 * the live deployment serving, and the next good save deploys by itself.
 */
import { dirname, resolve } from 'node:path';
import { referencedFiles } from './config/referenced-files.ts';
import type { DeployErrorEvent, DeployEvent, Gateway } from './gateway.ts';
import { formatIssue } from './errors.ts';
import { FileWatcher } from './watch.ts';

export interface AutoDeployOptions {
  /** --no-watch: never watch, whatever the config says. */
  readonly noWatch: boolean;
  readonly debounceMs?: number;
  readonly out?: (line: string) => void;
  readonly err?: (line: string) => void;
}

export class AutoDeploy {
  readonly #gateway: Gateway;
  readonly #file: string;
  readonly #baseDir: string;
  readonly #noWatch: boolean;
  readonly #out: (line: string) => void;
  readonly #err: (line: string) => void;
  readonly #watcher: FileWatcher;
  /** null until the first sync, so the first state is always reported. */
  #watching: boolean | null = null;
  #closed = false;

  constructor(gateway: Gateway, file: string, options: AutoDeployOptions) {
    this.#gateway = gateway;
    this.#file = resolve(file);
    this.#baseDir = dirname(this.#file);
    this.#noWatch = options.noWatch;
    this.#out = options.out ?? ((line) => void process.stdout.write(`${line}\n`));
    this.#err = options.err ?? ((line) => void process.stderr.write(`${line}\n`));
    this.#watcher = new FileWatcher({
      debounceMs: options.debounceMs ?? 100,
      onChange: (changed) => void this.redeploy(describeChange(changed, this.#baseDir)),
      onWarning: (message) => this.#err(`portico: ${message}`),
    });
    gateway.on('deploy', this.#onDeploy);
    gateway.on('deployError', this.#onDeployError);
  }

  /** Starts watching if the config allows it; resolves once the files are recorded. */
  async start(): Promise<void> {
    await this.#sync(this.#gateway.config.autoDeploy);
  }

  /** Deploys the config file again; the outcome is printed (never rejects). */
  async redeploy(reason: string): Promise<void> {
    if (this.#closed) return;
    this.#out(`portico: ${reason}, deploying`);
    await this.#gateway.deploy(this.#file).catch(() => undefined);
  }

  close(): void {
    this.#closed = true;
    this.#watcher.close();
    this.#gateway.off('deploy', this.#onDeploy);
    this.#gateway.off('deployError', this.#onDeployError);
  }

  /** Watches the config and what it references, or stops, as `autoDeploy` now says. */
  async #sync(autoDeploy: boolean, extra: readonly string[] = []): Promise<void> {
    const on = autoDeploy && !this.#noWatch && !this.#closed;
    if (on) {
      const files = referencedFiles(this.#gateway.config, this.#baseDir).map((f) => f.path);
      await this.#watcher.watch([this.#file, ...files, ...extra]);
    } else {
      await this.#watcher.watch([]);
    }
    if (on !== this.#watching) {
      this.#watching = on;
      this.#out(
        on
          ? `portico: watching ${this.#watcher.files.length} file${this.#watcher.files.length === 1 ? '' : 's'} for changes`
          : `portico: not watching for changes (${this.#noWatch ? '--no-watch' : 'autoDeploy: false'}); SIGHUP redeploys`,
      );
    }
  }

  // Each outcome is printed once the watched set is updated for it, so whoever reads the
  // line (a person, or a test) can rely on the new files being watched already.
  readonly #onDeploy = (e: DeployEvent): void => {
    const { added, removed, changed } = e.changes;
    void this.#sync(this.#gateway.config.autoDeploy).then(() =>
      this.#out(
        `portico: deployed ${e.id} in ${e.durationMs} ms (routes: ${added.length} added, ${removed.length} removed, ${changed.length} changed)`,
      ),
    );
  };

  readonly #onDeployError = (e: DeployErrorEvent): void => {
    const report =
      e.issues.length > 0
        ? e.issues.map(formatIssue).join('\n')
        : `portico: ${e.error.message.split('\n')[0]}`;
    // Also watch files the refused config names (a handler not written yet, say).
    void this.#refusedFiles()
      .then((extra) => this.#sync(this.#gateway.config.autoDeploy, extra))
      .then(() => {
        this.#err(report);
        this.#err(`portico: deploy failed; still serving ${e.activeId}`);
      });
  };

  async #refusedFiles(): Promise<string[]> {
    try {
      const { loadConfigFile } = await import('./config/load.ts');
      const loaded = await loadConfigFile(this.#file);
      return referencedFiles(loaded.config, this.#baseDir).map((f) => f.path);
    } catch {
      return [];
    }
  }
}

function describeChange(changed: readonly string[], baseDir: string): string {
  const shown = changed.map((f) => (f.startsWith(`${baseDir}/`) ? f.slice(baseDir.length + 1) : f));
  return `${shown.join(', ')} changed`;
}
