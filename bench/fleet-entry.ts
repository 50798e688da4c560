/**
 * The entry gateway of `BENCH_NETNS=1 npm run bench:fleet`, on a host of its own: runs
 * `measureForwarding()` with the setup given as JSON in `FLEET_SETUP` and prints `{ "rows": [...], "cores": "0" }`.
 */
import { allowedCores } from './two-hosts.js';
import { measureForwarding, type ForwardingSetup } from './fleet-measure.js';

const setup = JSON.parse(process.env.FLEET_SETUP!) as ForwardingSetup;
const rows = await measureForwarding(setup);
process.stdout.write(`${JSON.stringify({ rows, cores: allowedCores(process.pid) })}\n`);
process.exit(0);
