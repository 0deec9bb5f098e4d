// apigw-requestid values: AWS's shape, unique.
import t from 'tap';
import { nextRequestId } from '../lib/request-id.ts';

t.test('apigw-requestid: 16 characters like AWS, unique', async (t) => {
  const seen = new Set<string>();
  for (let i = 0; i < 10_000; i++) seen.add(nextRequestId());
  t.equal(seen.size, 10_000);
  for (const id of [...seen].slice(0, 50)) t.match(id, /^[A-Za-z0-9+/]{13}EM=$/);
});
