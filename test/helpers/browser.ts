/**
 * Headless Chromium (Debian's `chromium` package) for browser-level tests: one process per
 * page, a fresh profile, no network chatter of its own, killed with its whole process
 * group at the end. Tests skip when it is not installed (CI's .ci/run installs it).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';

/** The path of `chromium` on PATH (or $CHROMIUM), or null when there is none. */
export function findChromium(): string | null {
  const explicit = process.env.CHROMIUM;
  const candidates =
    explicit !== undefined && explicit !== ''
      ? [explicit]
      : (process.env.PATH ?? '')
          .split(delimiter)
          .filter((dir) => dir !== '')
          .map((dir) => join(dir, 'chromium'));
  for (const file of candidates) {
    try {
      accessSync(file, constants.X_OK);
      return file;
    } catch {
      // not here
    }
  }
  return null;
}

export interface Browser {
  /** Everything Chromium wrote to stderr (for failure messages). */
  readonly stderr: () => string;
  /** Resolves when the process has exited (by itself or by close()). */
  readonly exited: Promise<void>;
  /** Kills Chromium and its process group, waits for the exit, removes the profile. */
  close(): Promise<void>;
}

/** Opens `url` in a new headless Chromium with a throwaway profile. */
export async function openPage(executable: string, url: string): Promise<Browser> {
  const profile = await mkdtemp(join(tmpdir(), 'portico-chromium-'));
  const child: ChildProcess = spawn(
    executable,
    [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-dev-shm-usage',
      '--disable-quic',
      '--no-first-run',
      '--no-default-browser-check',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--disable-extensions',
      '--mute-audio',
      `--user-data-dir=${profile}`,
      url,
    ],
    // Its own process group, so the renderer, GPU and zygote processes die with it.
    { detached: true, stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (chunk: string) => {
    if (stderr.length < 64 * 1024) stderr += chunk;
  });
  const exited = new Promise<void>((resolve) => {
    child.once('exit', () => resolve());
    child.once('error', (err) => {
      stderr += `\nspawn failed: ${err.message}`;
      resolve();
    });
  });
  let closing: Promise<void> | null = null;
  return {
    stderr: () => stderr,
    exited,
    close() {
      closing ??= (async () => {
        if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) {
          try {
            process.kill(-child.pid, 'SIGKILL');
          } catch {
            child.kill('SIGKILL');
          }
        }
        await exited;
        // Helpers may outlive the leader for a moment; the group kill reaches them too.
        if (child.pid !== undefined) {
          try {
            process.kill(-child.pid, 'SIGKILL');
          } catch {
            // group already gone
          }
        }
        await rm(profile, { recursive: true, force: true, maxRetries: 3 });
      })();
      return closing;
    },
  };
}
