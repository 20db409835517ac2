// package.test.mjs -- clients/js as an npm package: npm pack, offline install of the tarball, import, types.
//
// No broker or gateway: the package is checked as a user gets it. `npm pack`
// in clients/js, the tarball's file list and bytes, then a fresh project
// that installs the tarball offline (from the file, with an empty cache, so
// nothing can come from the registry), imports it in Node and drives one
// connection through a stub WebSocket, and compiles types/usage.ts with tsc
// resolving "herald-js" through the installed package's exports and types.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ROOT } from './lib/harness.mjs';

const PKG_DIR = path.join(ROOT, 'clients', 'js');
const HERE = path.join(ROOT, 'tests', 'clients');
const TSC = path.join(HERE, 'node_modules', 'typescript', 'bin', 'tsc');
const pkg = JSON.parse(readFileSync(path.join(PKG_DIR, 'package.json'), 'utf8'));

let tmp;
let tarball;
let packed;
let project;

// npm with its cache, logs and config kept inside tmp: the user's ~/.npm is
// neither read nor written.
function npm(args, cwd) {
  return execFileSync('npm', args, {
    cwd,
    encoding: 'utf8',
    env: {
      ...process.env,
      npm_config_cache: path.join(tmp, 'cache'),
      npm_config_userconfig: path.join(tmp, 'npmrc'),
      npm_config_update_notifier: 'false',
      npm_config_fund: 'false',
      npm_config_audit: 'false',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

before(() => {
  tmp = mkdtempSync(path.join(os.tmpdir(), 'herald-npm-pack-'));
  writeFileSync(path.join(tmp, 'npmrc'), '');
  packed = JSON.parse(npm(['pack', '--json', '--pack-destination', tmp], PKG_DIR))[0];
  tarball = path.join(tmp, packed.filename);
  project = path.join(tmp, 'app');
  execFileSync('mkdir', ['-p', project]);
  writeFileSync(path.join(project, 'package.json'),
    JSON.stringify({ name: 'fresh-app', version: '1.0.0', private: true, type: 'module' }));
});

after(() => {
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

test('package.json: a name, the version of CMakeLists.txt and CHANGELOG.md, MIT, ESM with types', () => {
  assert.equal(pkg.name, 'herald-js', 'the npm name (herald-client is taken on the registry)');
  const cmake = readFileSync(path.join(ROOT, 'CMakeLists.txt'), 'utf8').match(/project\(herald VERSION ([0-9.]+)/);
  assert.ok(cmake, 'CMakeLists.txt has project(herald VERSION x.y.z)');
  assert.equal(pkg.version, cmake[1], "the package's version is the project's");
  const changelog = readFileSync(path.join(ROOT, 'CHANGELOG.md'), 'utf8');
  assert.ok(changelog.includes(`\n## ${pkg.version}\n`), `CHANGELOG.md has a section for ${pkg.version}`);
  assert.equal(pkg.license, 'MIT', 'MIT, as LICENSE says');
  assert.equal(pkg.type, 'module', 'an ES module package');
  assert.equal(pkg.types, './herald.d.ts', 'types point at the hand-written declarations');
  assert.deepEqual(pkg.exports['.'], { types: './herald.d.ts', default: './herald.js' },
    'the main export names its types first, as TypeScript requires');
  assert.equal(pkg.dependencies, undefined, 'no runtime dependencies');
});

test('npm pack: exactly the module, its types, README, LICENSE and package.json', () => {
  const list = execFileSync('tar', ['tzf', tarball], { encoding: 'utf8' }).trim().split('\n').sort();
  assert.deepEqual(list, ['package/LICENSE', 'package/README.md', 'package/herald.d.ts',
    'package/herald.js', 'package/package.json'], 'the tarball holds these five files and nothing else');
  assert.equal(packed.name, 'herald-js', 'npm pack reports the package name');
  const unpacked = path.join(tmp, 'unpacked');
  execFileSync('mkdir', ['-p', unpacked]);
  execFileSync('tar', ['xzf', tarball, '-C', unpacked]);
  const inTar = (f) => readFileSync(path.join(unpacked, 'package', f));
  assert.ok(inTar('herald.js').equals(readFileSync(path.join(PKG_DIR, 'herald.js'))),
    'the packed herald.js is clients/js/herald.js byte for byte (the file the gateway serves)');
  assert.ok(inTar('LICENSE').equals(readFileSync(path.join(ROOT, 'LICENSE'))),
    'the packed LICENSE is the project LICENSE');
});

test('a fresh project installs the tarball offline and imports it in Node', () => {
  npm(['install', '--offline', '--no-save', tarball], project);
  const script = `
    import herald, { connect } from 'herald-js';
    import * as again from 'herald-js/herald.js';
    import meta from 'herald-js/package.json' with { type: 'json' };
    const sent = [];
    class StubSocket {
      constructor(url) { this.url = url; StubSocket.last = this; setTimeout(() => this.onopen(), 0); }
      send(frame) { sent.push(JSON.parse(frame)); }
      close() {}
    }
    const h = connect('ws://gateway.test/ws', { token: 'a.b.c', WebSocket: StubSocket, storage: null });
    await new Promise((r) => setTimeout(r, 20));
    h.close();
    console.log(JSON.stringify({
      connect: typeof connect, same: herald.connect === connect && again.connect === connect,
      version: meta.version, url: StubSocket.last.url, sent,
    }));`;
  const out = JSON.parse(execFileSync(process.execPath, ['--input-type=module', '-e', script],
    { cwd: project, encoding: 'utf8' }));
  assert.equal(out.connect, 'function', "import { connect } from 'herald-js' works");
  assert.equal(out.same, true, "the default export, the named export and 'herald-js/herald.js' are one module");
  assert.equal(out.version, pkg.version, "'herald-js/package.json' is exported");
  assert.equal(out.url, 'ws://gateway.test/ws', 'the installed client opened a socket to the URL');
  assert.deepEqual(out.sent, [{ type: 'auth', token: 'a.b.c' }], 'and sent its auth frame on open');
});

test('tsc resolves the installed package through its exports and types', () => {
  copyFileSync(path.join(HERE, 'types', 'usage.ts'), path.join(project, 'usage.ts'));
  writeFileSync(path.join(project, 'tsconfig.json'), JSON.stringify({
    compilerOptions: {
      strict: true, noEmit: true, target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext',
      lib: ['ES2022', 'DOM'], types: [], noUnusedLocals: true,
    },
    files: ['usage.ts'],
  }));
  try {
    execFileSync(process.execPath, [TSC, '-p', project], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e) {
    assert.fail(`tsc in the fresh project failed:\n${e.stdout}${e.stderr}`);
  }
});
