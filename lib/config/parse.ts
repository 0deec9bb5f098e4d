/**
 * Parses config text (YAML or JSON; JSON is parsed as YAML 1.2 so both get line and column
 * numbers) and validates it with the zod schema, reporting every problem with its config
 * path and position. Loaded only when a config must actually be checked (see load.ts).
 */
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
import { formatPath, parsePath } from './path.ts';
import { ConfigSchema, type GatewayConfig } from './schema.ts';

/** Where each config path stands in a parsed YAML/JSON document. */
export class DocumentPositions {
  readonly #doc: Document;
  readonly #lines: LineCounter;
  readonly source: string;

  constructor(doc: Document, lines: LineCounter, source: string) {
    this.#doc = doc;
    this.#lines = lines;
    this.source = source;
  }

  /**
   * The position of a path's value, or of its key when the problem is about the key.
   * A missing key has no node: the closest ancestor that exists stands in for it.
   */
  of(
    path: readonly (string | number)[],
    aboutKey = false,
  ): { line: number; column: number } | null {
    const keyNode = aboutKey ? findKeyNode(this.#doc, path) : null;
    if (keyNode?.range) return this.#at(keyNode.range[0]);
    for (let n = path.length; n >= 0; n--) {
      const node = this.#doc.getIn(path.slice(0, n), true);
      if (isNode(node) && node.range) return this.#at(node.range[0]);
    }
    return null;
  }

  #at(offset: number): { line: number; column: number } {
    const pos = this.#lines.linePos(offset);
    return { line: pos.line, column: pos.col };
  }

  locate(issues: readonly ConfigIssue[]): ConfigIssue[] {
    return issues.map((issue) => {
      if (issue.line !== undefined || issue.path === '') return issue;
      const path = parsePath(issue.path);
      const pos = path === null ? null : this.of(path);
      return { ...issue, file: issue.file ?? this.source, ...(pos ?? {}) };
    });
  }
}

/** Parses YAML/JSON text and validates it. `source` names the file in messages. */
export function parseConfigText(text: string, source: string): GatewayConfig {
  return parseConfigDocument(text, source).config;
}

export function parseConfigDocument(
  text: string,
  source: string,
): { config: GatewayConfig; positions: DocumentPositions } {
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
  const positions = new DocumentPositions(doc, lineCounter, source);
  return { config: checkConfig(doc.toJS() ?? {}, source, positions), positions };
}

/** Validates a config object (from a file or from code); throws ConfigError. */
export function validateConfig(input: unknown, source?: string): GatewayConfig {
  return checkConfig(input, source, null);
}

function checkConfig(
  input: unknown,
  source: string | undefined,
  positions: DocumentPositions | null,
): GatewayConfig {
  const result = ConfigSchema.safeParse(input);
  if (result.success) return result.data;
  throw new ConfigError(
    result.error.issues.map((issue) => toConfigIssue(issue, source, positions)),
    source,
  );
}

function toConfigIssue(
  issue: z.core.$ZodIssue,
  file: string | undefined,
  positions: DocumentPositions | null,
): ConfigIssue {
  const path = issue.path.map((p) => (typeof p === 'symbol' ? String(p) : p));
  const out: { -readonly [K in keyof ConfigIssue]: ConfigIssue[K] } = {
    path: formatPath(path),
    message: describeIssue(issue),
  };
  if (file !== undefined) out.file = file;
  if (positions !== null) {
    const aboutKey =
      issue.code === 'invalid_key' || (issue.code === 'custom' && issue.params?.at === 'key');
    const pos = positions.of(path, aboutKey);
    if (pos !== null) {
      out.line = pos.line;
      out.column = pos.column;
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

/** yaml's pretty message is "text at line L, column C:\n<excerpt>"; line and column are reported separately. */
function firstLine(message: string): string {
  const nl = message.indexOf('\n');
  return (nl < 0 ? message : message.slice(0, nl)).replace(/ at line \d+, column \d+:?$/, '');
}
