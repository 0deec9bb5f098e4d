// awsRequestId: random version-4 UUIDs, unique across the entropy pool's refills.
import t from 'tap';
import { randomUuid } from '../../lib/lambda/aws-request-id.ts';

t.test('awsRequestId: random version-4 UUIDs, unique across pool refills', async (t) => {
  // 10,000 ids use the 4096-id pool about two and a half times over.
  const ids: string[] = [];
  for (let i = 0; i < 10_000; i++) ids.push(randomUuid());
  t.equal(new Set(ids).size, ids.length, 'no repeats');
  const v4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
  t.equal(ids.filter((id) => !v4.test(id)).length, 0, 'every id is a lower-case v4 UUID');
  // Random, not counted: the variant nibble takes all four values, digits spread.
  t.same(new Set(ids.map((id) => id[19])), new Set(['8', '9', 'a', 'b']));
  const firstDigits = new Set(ids.map((id) => id[0]));
  t.equal(firstDigits.size, 16, 'every hex digit appears first');
});
