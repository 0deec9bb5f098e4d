/**
 * Watches a set of files for the CLI's auto-deploy. Each file is watched through its parent
 * folder, not by itself: editors that save by writing a temporary file and renaming it over
 * the original (or by deleting and re-creating it) replace the inode, and a watch on the old
 * inode would go deaf. Events are debounced, so one save (often several events) or a burst
 * of saves across files yields one callback; the callback runs only when some file's content
 * actually changed (a touch or a save without edits is ignored).
 */
import { createHash } from 'node:crypto';
import { watch, type FSWatcher } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { basename, dirname, resolve } from 'node:path';

export interface FileWatcherOptions {
  /** Quiet time after the last event before `onChange` runs. Default 100 ms. */
  readonly debounceMs?: number;
  /** The files whose content changed since the last call (or since `watch`). */
  readonly onChange: (changed: readonly string[]) => void;
  /** A folder could not be watched (e.g. it does not exist yet). */
  readonly onWarning?: (message: string) => void;
}

/** Content fingerprint; '' for a missing or unreadable file. */
async function fingerprint(file: string): Promise<string> {
  try {
    return createHash('sha256')
      .update(await readFile(file))
      .digest('base64url');
  } catch {
    return '';
  }
}

export class FileWatcher {
  readonly #debounceMs: number;
  readonly #onChange: FileWatcherOptions['onChange'];
  readonly #onWarning: NonNullable<FileWatcherOptions['onWarning']>;
  /** Folder → its watcher and the names in it we care about. */
  readonly #folders = new Map<string, { watcher: FSWatcher; names: Set<string> }>();
  /** File → content fingerprint at the last check. */
  #prints = new Map<string, string>();
  #timer: NodeJS.Timeout | null = null;
  #checking: Promise<void> = Promise.resolve();
  #closed = false;

  constructor(options: FileWatcherOptions) {
    this.#debounceMs = options.debounceMs ?? 100;
    this.#onChange = options.onChange;
    this.#onWarning = options.onWarning ?? (() => {});
  }

  /** The files watched, absolute. */
  get files(): string[] {
    return [...this.#prints.keys()];
  }

  /**
   * Watches exactly `files` from now on (replacing the previous set). Resolves once their
   * current contents are recorded, so later changes are measured against them.
   */
  async watch(files: readonly string[]): Promise<void> {
    if (this.#closed) return;
    const wanted = new Map<string, Set<string>>();
    for (const f of files) {
      const file = resolve(f);
      const dir = dirname(file);
      let names = wanted.get(dir);
      if (names === undefined) wanted.set(dir, (names = new Set()));
      names.add(basename(file));
    }
    for (const [dir, entry] of this.#folders) {
      if (!wanted.has(dir)) {
        entry.watcher.close();
        this.#folders.delete(dir);
      }
    }
    for (const [dir, names] of wanted) {
      const entry = this.#folders.get(dir);
      if (entry !== undefined) {
        entry.names = names;
        continue;
      }
      try {
        const watcher = watch(dir, { persistent: false }, (_event, name) => this.#event(dir, name));
        watcher.on('error', (err) => {
          this.#onWarning(`stopped watching ${dir}: ${err.message}`);
          watcher.close();
          this.#folders.delete(dir);
        });
        this.#folders.set(dir, { watcher, names });
      } catch (err) {
        this.#onWarning(`cannot watch ${dir}: ${(err as Error).message}`);
      }
    }
    const prints = new Map<string, string>();
    const all = [...wanted].flatMap(([dir, names]) => [...names].map((n) => resolve(dir, n)));
    await Promise.all(
      all.map(async (f) => prints.set(f, this.#prints.get(f) ?? (await fingerprint(f)))),
    );
    this.#prints = prints;
  }

  #event(dir: string, name: string | Buffer | null): void {
    const entry = this.#folders.get(dir);
    if (entry === undefined || this.#closed) return;
    // Some platforms do not report the name: then any event in the folder counts.
    if (name !== null && !entry.names.has(name.toString())) return;
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      this.#timer = null;
      this.#checking = this.#checking.then(() => this.#check());
    }, this.#debounceMs);
  }

  async #check(): Promise<void> {
    if (this.#closed) return;
    const changed: string[] = [];
    await Promise.all(
      [...this.#prints].map(async ([file, old]) => {
        const now = await fingerprint(file);
        if (now !== old) {
          this.#prints.set(file, now);
          changed.push(file);
        }
      }),
    );
    if (changed.length > 0 && !this.#closed) this.#onChange(changed.sort());
  }

  close(): void {
    this.#closed = true;
    if (this.#timer !== null) clearTimeout(this.#timer);
    for (const { watcher } of this.#folders.values()) watcher.close();
    this.#folders.clear();
  }
}
