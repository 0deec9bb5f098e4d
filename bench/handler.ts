/** The `function` route's handler (AWS Lambda style, payload 2.0): the same ~100-byte JSON. */
import { SMALL_BODY } from './payloads.ts';

export async function handler(): Promise<object> {
  return { statusCode: 200, headers: { 'content-type': 'application/json' }, body: SMALL_BODY };
}
