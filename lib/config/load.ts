/**
 * Reads a config file (YAML or JSON; JSON is parsed as YAML 1.2 so both get line and
 * column numbers) and validates it, reporting every problem with its config path.
 */
import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import {
  LineCounter,
  parseDocument,
  isMap,
  isNode,
  isScalar,
  type Document,
  type Node,
} from 'yaml';
import type { z } from 'zod';
import { ConfigError, type ConfigIssue } from '../errors.ts';
import { ConfigSchema, type GatewayConfig } from './schema.ts';

export interface LoadedConfig {
  readonly config: GatewayConfig;
  /** Folder that relative paths in the config (handlers, files) resolve against. */
  readonly baseDir: string;
  /** Absolute path of the file it came from, if any. */
  readonly file: string | null;
}

/** Reads and validates a config file; throws ConfigError listing each problem. */
export async function loadConfigFile(path: string): Promise<LoadedConfig> {
  const file = resolve(path);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const reason =
      code === 'ENOENT'
        ? 'config file not found'
        : code === 'EISDIR'
          ? 'is a folder, not a config file'
          : `cannot read config file (${code})`;
    throw new ConfigError([{ path: '', message: reason, file: path }], path);
  }
  return { config: parseConfigText(text, path), baseDir: dirname(file), file };
}

/** Parses YAML/JSON text and validates it. `source` names the file in messages. */
export function parseConfigText(text: string, source: string): GatewayConfig {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length > 0) {
    throw new ConfigError(
      doc.errors.map((e) => {
        const pos = e.linePos?.[0];
        const issue: ConfigIssue = {
          path: '',
          message: `${e.code}: ${firstLine(e.message)}`,
          file: source,
          ...(pos ? { line: pos.line, column: pos.col } : {}),
        };
        return issue;
      }),
      source,
    );
  }
  return validateConfig(doc.toJS() ?? {}, source, { doc, lineCounter });
}

/** Validates a config object (from a file or from code); throws ConfigError. */
export function validateConfig(
  input: unknown,
  source?: string,
  located?: { doc: Document; lineCounter: LineCounter },
): GatewayConfig {
  const result = ConfigSchema.safeParse(input);
  if (result.success) return result.data;
  throw new ConfigError(
    result.error.issues.map((issue) => toConfigIssue(issue, source, located)),
    source,
  );
}

function toConfigIssue(
  issue: z.core.$ZodIssue,
  file: string | undefined,
  located?: { doc: Document; lineCounter: LineCounter },
): ConfigIssue {
  const path = issue.path.map((p) => (typeof p === 'symbol' ? String(p) : p));
  const out: { -readonly [K in keyof ConfigIssue]: ConfigIssue[K] } = {
    path: formatPath(path),
    message: describeIssue(issue),
  };
  if (file !== undefined) out.file = file;
  if (located) {
    const aboutKey =
      issue.code === 'invalid_key' || (issue.code === 'custom' && issue.params?.at === 'key');
    const keyNode = aboutKey ? findKeyNode(located.doc, path) : null;
    if (keyNode?.range) {
      const pos = located.lineCounter.linePos(keyNode.range[0]);
      out.line = pos.line;
      out.column = pos.col;
      return out;
    }
    // A missing key has no node: point at the closest ancestor that exists.
    for (let n = path.length; n >= 0; n--) {
      const node = located.doc.getIn(path.slice(0, n), true);
      if (isNode(node) && node.range) {
        const pos = located.lineCounter.linePos(node.range[0]);
        out.line = pos.line;
        out.column = pos.col;
        break;
      }
    }
  }
  return out;
}

/** The node of the last path element's key (not its value) in the YAML document. */
function findKeyNode(doc: Document, path: readonly (string | number)[]): Node | null {
  const parent = doc.getIn(path.slice(0, -1), true);
  if (!isMap(parent)) return null;
  const last = path.at(-1);
  const pair = parent.items.find((p) => isScalar(p.key) && p.key.value === last);
  return pair && isNode(pair.key) ? pair.key : null;
}

function describeIssue(issue: z.core.$ZodIssue): string {
  switch (issue.code) {
    case 'unrecognized_keys':
      return `unknown key${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `"${k}"`).join(', ')}`;
    case 'invalid_key':
      return issue.issues.map((i) => i.message).join('; ');
    case 'invalid_union':
      if ('discriminator' in issue && issue.discriminator) {
        return `${issue.message}; "${String(issue.discriminator)}" must be one of the known types`;
      }
      return issue.message;
    default:
      return issue.message;
  }
}

const IDENT = /^[A-Za-z_$][\w$]*$/;

/** `routes["GET /a"].integration`, `stages.prod.variables.url`, `list[0]`. */
export function formatPath(path: readonly (string | number)[]): string {
  let out = '';
  for (const p of path) {
    if (typeof p === 'number') out += `[${p}]`;
    else if (IDENT.test(p)) out += out ? `.${p}` : p;
    else out += `[${JSON.stringify(p)}]`;
  }
  return out;
}

/** yaml's pretty message is "text at line L, column C:\n<excerpt>"; line and column are reported separately. */
function firstLine(message: string): string {
  const nl = message.indexOf('\n');
  return (nl < 0 ? message : message.slice(0, nl)).replace(/ at line \d+, column \d+:?$/, '');
}
