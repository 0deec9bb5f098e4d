/**
 * Loads a `path/to/module.js#export` handler at deploy time: resolves the file against the
 * config's folder, imports it by file URL and walks to the export. Every failure becomes a
 * ConfigError at the config key that named it (`integrations.<name>.handler`, or an
 * authorizer's) with a one-line reason, never a stack.
 */
import { createHash } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { formatPath } from '../config/path.ts';
import { ConfigError } from '../errors.ts';
import type { FunctionHandler } from './context.ts';

export interface HandlerSpec {
  /** The module path as written, for messages. */
  readonly file: string;
  readonly absolutePath: string;
  /** `handlers.hello` → ['handlers', 'hello']. */
  readonly exportPath: readonly string[];
}

const EXPORT_RE = /^[A-Za-z_$][\w$]*(\.[A-Za-z_$][\w$]*)*$/;

/** Splits and resolves a spec; returns a reason string when it is malformed. */
export function parseHandlerSpec(spec: string, baseDir: string): HandlerSpec | string {
  const hash = spec.lastIndexOf('#');
  if (hash <= 0 || hash === spec.length - 1) {
    return `expected "path/to/module.js#exportName", got "${spec}"`;
  }
  const file = spec.slice(0, hash);
  const name = spec.slice(hash + 1);
  if (!EXPORT_RE.test(name)) return `"${name}" is not an export name`;
  return { file, absolutePath: resolve(baseDir, file), exportPath: name.split('.') };
}

/**
 * The URL the module is imported from, with a cache-busting `?v=<content hash>`: ESM caches
 * by URL, so changed content means a fresh module instance on the next deploy, while an
 * unchanged file (or one edited back to an earlier content) reuses the instance already
 * loaded. Node cannot unload an ES module, so each distinct content costs one module record
 * for the life of the process (see README, "Auto-deploy and lifecycle").
 */
export function handlerModuleUrl(spec: HandlerSpec, version?: string): URL {
  const url = pathToFileURL(spec.absolutePath);
  if (version !== undefined) url.searchParams.set('v', version);
  return url;
}

/**
 * Imports the module and returns the handler function; throws ConfigError at `configPath`
 * (e.g. ['integrations', name, 'handler']) on any failure.
 */
export async function loadHandler(
  configPath: readonly string[],
  spec: string,
  baseDir: string,
): Promise<FunctionHandler> {
  const fail = (message: string): never => {
    throw new ConfigError([{ path: formatPath(configPath), message }]);
  };
  const parsed = parseHandlerSpec(spec, baseDir);
  if (typeof parsed === 'string') return fail(parsed);

  // Checked first so a missing file reads as such, not as a missing dependency inside it.
  try {
    const s = await stat(parsed.absolutePath);
    if (!s.isFile()) fail(`"${parsed.file}" is not a file (resolved to ${parsed.absolutePath})`);
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    fail(`module "${parsed.file}" not found (resolved to ${parsed.absolutePath})`);
  }

  let namespace: Record<string, unknown>;
  try {
    const version = await contentVersion(parsed.absolutePath);
    // The first content seen is imported at the plain URL: the same instance the
    // application (or a test) gets when it imports the module itself.
    const query = firstVersions.get(parsed.absolutePath) === version ? undefined : version;
    namespace = (await import(handlerModuleUrl(parsed, query).href)) as Record<string, unknown>;
  } catch (err) {
    return fail(`cannot load module "${parsed.file}": ${describeLoadError(err)}`);
  }

  const exportName = parsed.exportPath.join('.');
  let value = lookup(namespace, parsed.exportPath);
  // A CommonJS module whose exports cjs-module-lexer could not detect is only under `default`.
  if (value === undefined && isObject(namespace.default)) {
    value = lookup(namespace.default, parsed.exportPath);
  }
  if (value === undefined) {
    const names = Object.keys(namespace).filter((k) => k !== 'module.exports');
    const known = names.length > 0 ? `; it exports ${names.map((n) => `"${n}"`).join(', ')}` : '';
    return fail(`module "${parsed.file}" has no export "${exportName}"${known}`);
  }
  if (typeof value !== 'function') {
    return fail(
      `export "${exportName}" of "${parsed.file}" is ${value === null ? 'null' : `a ${typeof value}`}, not a function`,
    );
  }
  return value as FunctionHandler;
}

const cjsCache = createRequire(import.meta.url).cache;
/** The content hash each module was last loaded with, by absolute path. */
const loadedVersions = new Map<string, string>();
/** The content hash each module was first loaded with. */
const firstVersions = new Map<string, string>();

/** The content hash `spec`'s module was last loaded with, if it was. */
export function loadedVersion(spec: string, baseDir: string): string | undefined {
  const parsed = parseHandlerSpec(spec, baseDir);
  return typeof parsed === 'string' ? undefined : loadedVersions.get(parsed.absolutePath);
}

/**
 * A short hash of the module's bytes. Only the entry module is versioned: files it imports
 * itself stay cached by Node. A CommonJS module is cached by path in require.cache, which
 * the ESM loader consults whatever the query, so its entry is dropped when the content changed.
 */
async function contentVersion(absolutePath: string): Promise<string> {
  const version = hashContent(await readFile(absolutePath));
  const previous = loadedVersions.get(absolutePath);
  if (previous !== undefined && previous !== version && cjsCache[absolutePath] !== undefined) {
    delete cjsCache[absolutePath];
  }
  loadedVersions.set(absolutePath, version);
  if (!firstVersions.has(absolutePath)) firstVersions.set(absolutePath, version);
  return version;
}

function hashContent(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('base64url').slice(0, 16);
}

/** The content hash of `spec`'s module file as it is now, or undefined if unreadable. */
export async function currentVersion(spec: string, baseDir: string): Promise<string | undefined> {
  const parsed = parseHandlerSpec(spec, baseDir);
  if (typeof parsed === 'string') return undefined;
  try {
    return hashContent(await readFile(parsed.absolutePath));
  } catch {
    return undefined;
  }
}

function lookup(root: unknown, path: readonly string[]): unknown {
  let value = root;
  for (const key of path) {
    if (!isObject(value) || !Object.hasOwn(value, key)) return undefined;
    value = (value as Record<string, unknown>)[key];
  }
  return value;
}

function isObject(value: unknown): value is object {
  return (typeof value === 'object' && value !== null) || typeof value === 'function';
}

/**
 * One line: the error's name and message. For a syntax error, the location is appended
 * when the stack starts with it (`file:///…:line`), as some Node versions print it there
 * rather than in the message.
 */
function describeLoadError(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  let text = `${err.name}: ${firstLine(err.message)}`;
  const code = (err as NodeJS.ErrnoException).code;
  if (code !== undefined && !text.includes(code)) text += ` (${code})`;
  if (err instanceof SyntaxError) {
    const at = err.stack?.split('\n', 1)[0];
    if (at?.startsWith('file://')) text += ` at ${at.slice('file://'.length)}`;
  }
  return text;
}

function firstLine(s: string): string {
  const nl = s.indexOf('\n');
  return nl < 0 ? s : s.slice(0, nl);
}
