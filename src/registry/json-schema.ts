// The registry's JSON Schema, derived from the zod schema, for editors (yaml-language-server,
// VS Code) and other tools. Written to config/models.schema.json by `npm run schema:write`.
import { z } from 'zod';
import { MODEL_NAME_RE, registrySchema, VERSION_NAME_RE } from './schema.js';

interface JsonObject {
  [key: string]: unknown;
  properties?: Record<string, unknown>;
}

export function registryJsonSchema(): Record<string, unknown> {
  const schema = z.toJSONSchema(registrySchema, { io: 'input', unrepresentable: 'any' }) as JsonObject;
  // Names are checked after parsing (so all problems come in one report); editors get them here.
  const models = schema.properties?.models as JsonObject;
  models.propertyNames = { type: 'string', pattern: MODEL_NAME_RE.source };
  const versions = (models.additionalProperties as JsonObject).properties?.versions as JsonObject;
  versions.propertyNames = { type: 'string', pattern: VERSION_NAME_RE.source };
  return {
    ...schema,
    $id: 'https://github.com/model-gateway/model-gateway/config/models.schema.json',
    title: 'model-gateway registry',
    description: 'Maps each model to versions with a storage uri and a traffic weight. See CONTRACT.md.',
  };
}
