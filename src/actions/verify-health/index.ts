// First: a cancel that comes while the bundle still loads is recorded, not fatal.
import '../common/early-signals.js';
import { run } from './main.js';

await run();
