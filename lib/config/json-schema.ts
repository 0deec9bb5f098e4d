/** The JSON Schema for config files, generated from the zod schema so the two never drift. */
import { z } from 'zod';
import { ConfigSchema } from './schema.ts';

export function configJsonSchema(): Record<string, unknown> {
  // `io: 'input'` so keys with defaults stay optional for editors; draft-07 is what most support.
  return {
    ...z.toJSONSchema(ConfigSchema, { io: 'input', target: 'draft-7', unrepresentable: 'any' }),
    title: 'Portico gateway configuration',
  };
}
