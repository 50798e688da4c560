// bench/sequential-trace.micro.ts's task file for a bare Piscina pool: the echo, stamped.
import { tracedEcho } from './trace-stamps.js';

export default tracedEcho;
