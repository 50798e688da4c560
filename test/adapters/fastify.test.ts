import { adapterCases } from './adapter-cases.js';
import { fastifyMount } from './mounts.js';

adapterCases('Fastify, registered under /plugins', fastifyMount('/plugins'));
adapterCases('Fastify, registered without a prefix', fastifyMount(''));
