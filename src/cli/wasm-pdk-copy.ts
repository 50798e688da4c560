/**
 * A Go or Rust wasm template made into the user's plugin: the gateway's `pgw` package (Go) or crate
 * (Rust), shared by the templates under `templates/wasm/pdk/`, is copied into the plugin's `pgw/`
 * folder and its reference rewritten from `../pdk/<lang>` to `./pgw`, so the folder builds wherever it
 * is; the module or crate takes the plugin's name.
 * @module
 */
import { existsSync } from 'node:fs';
import { cp, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';

/** Copies the shared `pgw` into `dir` when its template needs it. */
export async function attachPgw(dir: string, name: string, templates: string): Promise<void> {
  const goMod = path.join(dir, 'go.mod');
  const cargo = path.join(dir, 'Cargo.toml');
  if (existsSync(goMod)) {
    await cp(path.join(templates, 'wasm/pdk/go'), path.join(dir, 'pgw'), { recursive: true });
    await rewrite(goMod, (text) =>
      text.replace(/^module .*$/m, `module ${name}`).replace(/=> \.\.\/pdk\/go$/m, '=> ./pgw'),
    );
  } else if (existsSync(cargo)) {
    await cp(path.join(templates, 'wasm/pdk/rust'), path.join(dir, 'pgw'), {
      recursive: true,
      filter: (source) => path.basename(source) !== 'target',
    });
    await rewrite(cargo, (text) =>
      text
        .replace(/^name = ".*"$/m, `name = "${name}"`)
        .replace(/path = "\.\.\/pdk\/rust"/, 'path = "./pgw"'),
    );
    // The lock file names the template's crate: cargo writes it again on the first build.
    const lock = path.join(dir, 'Cargo.lock');
    if (existsSync(lock)) {
      await rewrite(lock, (text) =>
        text.replace(/name = "wasm-template-rust"/, `name = "${name}"`),
      );
    }
  }
}

async function rewrite(file: string, change: (text: string) => string): Promise<void> {
  await writeFile(file, change(await readFile(file, 'utf8')));
}
