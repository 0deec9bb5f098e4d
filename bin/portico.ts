#!/usr/bin/env node
/** The `portico` command: a thin shim so start-up loads only what the command needs. */
import module from 'node:module';

// Caches compiled bytecode between runs on Node >= 22.1; absent on Node 20.
(module as { enableCompileCache?: () => unknown }).enableCompileCache?.();

// No top-level await: the build bundles this into one CommonJS file (scripts/bundle.mjs).
void import('../lib/cli.ts').then(({ run }) => run(process.argv.slice(2)));
