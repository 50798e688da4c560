// A process that registers one instance and waits to be killed (registry-etcd / registry-consul tests).
import { ConsulRegistry } from '../../src/registry/consul.js';
import { EtcdRegistry } from '../../src/registry/etcd.js';
import { record } from './contract.js';

const namespace = process.env.NAMESPACE!;
const registry = process.env.ETCD
  ? new EtcdRegistry({ endpoints: process.env.ETCD, namespace, ttl: '1s' })
  : new ConsulRegistry({ port: Number(process.env.CONSUL_PORT), namespace, ttl: '1s' });
await registry.register(record('owned'));
process.stdout.write('ready\n');
setInterval(() => {}, 1000);
