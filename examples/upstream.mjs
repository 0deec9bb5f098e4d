/**
 * The example's upstream: an HTTP server that answers every request with a JSON echo of
 * what it received, so you can see what the gateway forwarded.
 *
 * `npm start` preloads it into the gateway's process (`node --import ./examples/upstream.mjs`),
 * so one command starts both and one Ctrl-C stops both. It also runs on its own:
 * `node examples/upstream.mjs`. Port: 8081, or EXAMPLE_UPSTREAM_PORT.
 */
import { createServer } from 'node:http';
import process from 'node:process';

const port = Number(process.env.EXAMPLE_UPSTREAM_PORT ?? 8081);

const server = createServer((req, res) => {
  let bytes = 0;
  req.on('data', (chunk) => (bytes += chunk.length));
  req.on('end', () => {
    const q = req.url.indexOf('?');
    const body = JSON.stringify({
      upstream: 'examples/upstream.mjs',
      method: req.method,
      path: q < 0 ? req.url : req.url.slice(0, q),
      query: q < 0 ? '' : req.url.slice(q + 1),
      bodyBytes: bytes,
      forwarded: {
        for: req.headers['x-forwarded-for'],
        proto: req.headers['x-forwarded-proto'],
        host: req.headers['x-forwarded-host'],
      },
    });
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(`${body}\n`);
  });
});

try {
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', resolve);
  });
} catch (err) {
  process.stderr.write(
    `example upstream: cannot listen on 127.0.0.1:${port} (${err.code}). Free the port, or set ` +
      'EXAMPLE_UPSTREAM_PORT and change the upstream URLs in examples/portico.yaml to match.\n',
  );
  process.exit(1);
}
process.stdout.write(`example upstream listening on http://127.0.0.1:${port}\n`);
