import { resolve } from 'node:path';
import { writeJsonSchemas } from './write-json-schemas.js';

/** `npm run contracts:schemas [outDir]`: one JSON Schema file per event, for producers in other languages. */
for (const file of writeJsonSchemas(resolve(process.argv[2] ?? 'contracts/json-schema'))) console.log(`wrote ${file}`);
