/**
 * A small network of test hosts on this machine: one Linux network namespace per host, each with an
 * `eth0` on a bridge that lives in a namespace of its own (the switch), and an address in a /24 chosen
 * per network. The test process itself is a host too (`client`, a veth from the root namespace to the
 * switch), so it reaches every host directly. Faults are made with the kernel's own tools: a link set
 * down (a host cut off from everything) and neighbour entries that send the packets between two hosts
 * nowhere (a partition that is silent, as a real one is: no RST, no ICMP).
 *
 * Needs root and iproute2 (`ip`). Only addresses of these namespaces are ever contacted.
 */
import { execFileSync, spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { randomBytes } from 'node:crypto';

/** A locally administered MAC address no host of a test network has. */
const NOWHERE = '02:00:5e:00:53:01';

export interface Host {
  readonly name: string;
  readonly namespace: string;
  readonly address: string;
  /** The switch-side end of its link. */
  readonly port: string;
}

function ip(...args: string[]): string {
  return execFileSync('ip', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

function inNamespace(namespace: string, command: string, ...args: string[]): string {
  return ip('netns', 'exec', namespace, command, ...args);
}

/** Whether this machine can make test hosts (root, `ip netns`), or why not. */
export function netnsUnavailable(): string | undefined {
  if (process.getuid?.() !== 0) return 'network namespaces need root';
  const probe = `pgw-probe-${randomBytes(3).toString('hex')}`;
  try {
    ip('netns', 'add', probe);
    inNamespace(probe, 'ip', 'link', 'set', 'lo', 'up');
    return undefined;
  } catch (error) {
    return `ip netns / tc do not work here: ${(error as Error).message.split('\n')[0]}`;
  } finally {
    try {
      ip('netns', 'del', probe);
    } catch {
      // it was never made
    }
  }
}

export class TestNetwork {
  readonly hosts = new Map<string, Host>();
  readonly clientAddress: string;
  readonly #tag = randomBytes(3).toString('hex');
  readonly #switch: string;
  readonly #subnet: string;
  readonly #children = new Set<ChildProcess>();
  #clientLink: string;

  private constructor(names: readonly string[]) {
    // 10.231.N.0/24, N chosen per network: two test files may build networks at the same time.
    this.#subnet = `10.231.${1 + (randomBytes(1)[0]! % 250)}`;
    this.#switch = `pgw-${this.#tag}-sw`;
    ip('netns', 'add', this.#switch);
    inNamespace(this.#switch, 'ip', 'link', 'add', 'br0', 'type', 'bridge');
    inNamespace(this.#switch, 'ip', 'link', 'set', 'br0', 'up');
    names.forEach((name, index) => {
      const namespace = `pgw-${this.#tag}-${name}`;
      const port = `p${this.#tag}${index}`;
      const address = `${this.#subnet}.${index + 1}`;
      ip('netns', 'add', namespace);
      ip('link', 'add', port, 'type', 'veth', 'peer', 'name', `h${this.#tag}${index}`);
      ip('link', 'set', port, 'netns', this.#switch);
      ip('link', 'set', `h${this.#tag}${index}`, 'netns', namespace);
      inNamespace(namespace, 'ip', 'link', 'set', `h${this.#tag}${index}`, 'name', 'eth0');
      inNamespace(namespace, 'ip', 'addr', 'add', `${address}/24`, 'dev', 'eth0');
      inNamespace(namespace, 'ip', 'link', 'set', 'eth0', 'up');
      inNamespace(namespace, 'ip', 'link', 'set', 'lo', 'up');
      inNamespace(this.#switch, 'ip', 'link', 'set', port, 'master', 'br0');
      inNamespace(this.#switch, 'ip', 'link', 'set', port, 'up');
      this.hosts.set(name, { name, namespace, address, port });
    });
    // The test process is the client host: a link from the root namespace to the switch.
    this.#clientLink = `c${this.#tag}`;
    this.clientAddress = `${this.#subnet}.254`;
    ip('link', 'add', this.#clientLink, 'type', 'veth', 'peer', 'name', `s${this.#tag}`);
    ip('link', 'set', `s${this.#tag}`, 'netns', this.#switch);
    inNamespace(this.#switch, 'ip', 'link', 'set', `s${this.#tag}`, 'master', 'br0');
    inNamespace(this.#switch, 'ip', 'link', 'set', `s${this.#tag}`, 'up');
    ip('addr', 'add', `${this.clientAddress}/24`, 'dev', this.#clientLink);
    ip('link', 'set', this.#clientLink, 'up');
  }

  static create(names: readonly string[]): TestNetwork {
    return new TestNetwork(names);
  }

  host(name: string): Host {
    const host = this.hosts.get(name);
    if (!host) throw new Error(`no host ${name} in this network`);
    return host;
  }

  /** Starts a process on a host; it is killed by `destroy()` if still running. */
  spawn(name: string, command: string, args: string[], options: SpawnOptions = {}): ChildProcess {
    const child = spawn('ip', ['netns', 'exec', this.host(name).namespace, command, ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
      ...options,
    });
    this.#children.add(child);
    child.once('exit', () => this.#children.delete(child));
    return child;
  }

  /** Cuts a host off from every other host (its link goes down: packets vanish, both ways). */
  isolate(name: string): void {
    inNamespace(this.#switch, 'ip', 'link', 'set', this.host(name).port, 'down');
  }

  reconnect(name: string): void {
    inNamespace(this.#switch, 'ip', 'link', 'set', this.host(name).port, 'up');
  }

  /**
   * Drops every packet between the hosts of `a` and those of `b`, both ways, silently, as a real
   * partition does (no RST, no ICMP): each side's neighbour table points the other's addresses at a MAC
   * that no host has, so the switch floods the frames and nobody takes them. (This kernel has no netem,
   * prio or tc actions; a permanent neighbour entry needs none of them.)
   */
  partition(a: readonly string[], b: readonly string[]): void {
    for (const [from, to] of [
      [a, b],
      [b, a],
    ] as const) {
      for (const name of from) {
        for (const other of to) {
          inNamespace(
            this.host(name).namespace,
            'ip',
            'neigh',
            'replace',
            this.host(other).address,
            'lladdr',
            NOWHERE,
            'dev',
            'eth0',
            'nud',
            'permanent',
          );
        }
      }
    }
  }

  /** Lifts every partition of these hosts (their neighbour tables learn the real addresses again). */
  heal(names: readonly string[] = [...this.hosts.keys()]): void {
    for (const name of names) {
      inNamespace(
        this.host(name).namespace,
        'ip',
        'neigh',
        'flush',
        'dev',
        'eth0',
        'nud',
        'permanent',
      );
    }
  }

  async destroy(): Promise<void> {
    await Promise.all(
      [...this.#children].map(
        (child) =>
          new Promise<void>((resolve) => {
            if (child.exitCode !== null || child.signalCode !== null) return resolve();
            child.once('exit', () => resolve());
            child.kill('SIGKILL');
          }),
      ),
    );
    for (const host of this.hosts.values()) {
      try {
        ip('netns', 'del', host.namespace);
      } catch {
        // already gone
      }
    }
    try {
      ip('link', 'del', this.#clientLink);
    } catch {
      // went with the switch
    }
    try {
      ip('netns', 'del', this.#switch);
    } catch {
      // already gone
    }
  }
}
