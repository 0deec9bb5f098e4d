/**
 * Headless Chromium (Debian's `chromium` package) for browser-level tests: one process per
 * page, a fresh profile, no network chatter of its own, killed with its whole process
 * group at the end. Tests skip when it is not installed (CI's .ci/run installs it).
 */
import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import type { Readable, Writable } from 'node:stream';

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
  return (await launch(executable, url, [], ['ignore', 'ignore', 'pipe'])).browser;
}

/** A page driven over the DevTools protocol (Chromium's --remote-debugging-pipe: fds 3 and 4). */
export interface DevToolsPage extends Browser {
  /** Evaluates an expression in the page; resolves with its (JSON-able) value. */
  evaluate<T = unknown>(expression: string): Promise<T>;
  /** A PNG of the viewport. */
  screenshot(): Promise<Buffer>;
}

/**
 * Opens `url` with the DevTools protocol on a pipe (no port, no WebSocket client needed):
 * messages are JSON, each terminated by a NUL byte.
 */
export async function openDevToolsPage(
  executable: string,
  url: string,
  size = { width: 1000, height: 400 },
): Promise<DevToolsPage> {
  const { browser, child } = await launch(
    executable,
    url,
    ['--remote-debugging-pipe', `--window-size=${size.width},${size.height}`, '--hide-scrollbars'],
    ['ignore', 'ignore', 'pipe', 'pipe', 'pipe'],
  );
  const toChrome = child.stdio[3] as Writable;
  const fromChrome = child.stdio[4] as Readable;
  let nextId = 0;
  const pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  let buffered = '';
  fromChrome.setEncoding('utf8');
  fromChrome.on('data', (chunk: string) => {
    buffered += chunk;
    for (let end = buffered.indexOf('\0'); end >= 0; end = buffered.indexOf('\0')) {
      const msg = JSON.parse(buffered.slice(0, end)) as {
        id?: number;
        result?: unknown;
        error?: { message: string };
      };
      buffered = buffered.slice(end + 1);
      const p = msg.id === undefined ? undefined : pending.get(msg.id);
      if (p === undefined) continue;
      pending.delete(msg.id!);
      if (msg.error) p.reject(new Error(msg.error.message));
      else p.resolve(msg.result);
    }
  });
  void browser.exited.then(() => {
    for (const p of pending.values()) p.reject(new Error(`chromium exited: ${browser.stderr()}`));
    pending.clear();
  });
  const send = <T>(method: string, params: object = {}, sessionId?: string): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      const id = ++nextId;
      pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      toChrome.write(`${JSON.stringify({ id, method, params, sessionId })}\0`);
    });
  const { targetInfos } = await send<{ targetInfos: Array<{ targetId: string; type: string }> }>(
    'Target.getTargets',
  );
  const page = targetInfos.find((i) => i.type === 'page');
  if (page === undefined) throw new Error('chromium opened no page');
  const { sessionId } = await send<{ sessionId: string }>('Target.attachToTarget', {
    targetId: page.targetId,
    flatten: true,
  });
  // Headless window sizes include no chrome, but be exact: the viewport is what we screenshot.
  await send(
    'Emulation.setDeviceMetricsOverride',
    { ...size, deviceScaleFactor: 1, mobile: false },
    sessionId,
  );
  return {
    ...browser,
    async evaluate<T>(expression: string): Promise<T> {
      const r = await send<{ result: { value?: unknown }; exceptionDetails?: { text: string } }>(
        'Runtime.evaluate',
        { expression, returnByValue: true, awaitPromise: true },
        sessionId,
      );
      if (r.exceptionDetails) throw new Error(r.exceptionDetails.text);
      return r.result.value as T;
    },
    async screenshot(): Promise<Buffer> {
      const r = await send<{ data: string }>(
        'Page.captureScreenshot',
        { format: 'png' },
        sessionId,
      );
      return Buffer.from(r.data, 'base64');
    },
  };
}

async function launch(
  executable: string,
  url: string,
  extraArgs: readonly string[],
  stdio: StdioOptions,
): Promise<{ browser: Browser; child: ChildProcess }> {
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
      ...extraArgs,
      url,
    ],
    // Its own process group, so the renderer, GPU and zygote processes die with it.
    { detached: true, stdio },
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
  const browser: Browser = {
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
  return { browser, child };
}
