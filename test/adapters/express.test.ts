import { adapterCases } from './adapter-cases.js';
import { expressMount } from './mounts.js';

adapterCases('Express, express.json() and express.text() before', expressMount('json-text'));
adapterCases('Express, every body parser before', expressMount('all'));
adapterCases('Express, no body parser', expressMount('none'));
adapterCases('Express, body parsers after the gateway', expressMount('all', 'after'));
