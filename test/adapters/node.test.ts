import { adapterCases } from './adapter-cases.js';
import { nodeMount } from './mounts.js';

adapterCases('node:http, createRequestListener with a prefix and next()', nodeMount);
