/** The bodies every target serves, so each one answers with the same bytes. */

/** About 100 bytes of JSON: the "small GET" answer of the upstream, bare server, mock and function. */
export const SMALL_BODY = JSON.stringify({
  id: 'bench-0001',
  message: 'hello from the upstream',
  ok: true,
  items: [1, 2, 3, 4, 5],
  pad: 'xxxxxx',
});

/** 64 KiB for the large GET. */
export const LARGE_BODY = Buffer.alloc(64 * 1024, 'abcdefghijklmnopqrstuvwxyz0123456789\n');

/** 1 KiB of JSON for the POST echo. */
export const POST_BODY = JSON.stringify({ data: 'p'.repeat(1024 - 11) });

/**
 * Prints the line the orchestrator waits for ("listening on URL"), and makes SIGINT/SIGTERM
 * a normal exit, so `node --cpu-prof` writes its profile when the bench stops the process.
 */
export function announce(url: string): void {
  process.stdout.write(`listening on ${url}\n`);
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => process.exit(0));
}
