import { parseEnv, baseServiceEnv } from '../config/service-config.js';
import { openDatabase } from './data-source.js';

/** `npm run db:migrate`: create the database if missing and apply every pending migration. */
const env = parseEnv(baseServiceEnv.pick({ DATABASE_URL: true }));
const dataSource = await openDatabase(env.DATABASE_URL, 2);
const executed = await dataSource.query('SELECT name FROM schema_migrations ORDER BY id');
console.log(`database ready: ${executed.length} migrations applied`);
await dataSource.destroy();
