// Writes build-stamp.json beside the built extension: the sha256 of every source file the
// build reads, so a test can tell when the committed build is older than its sources.
const crypto = require('crypto');
const fs = require('fs');
const path = require('path');

const root = path.resolve(__dirname, '..');
const files = ['package.json', 'tsconfig.json', 'yarn.lock'];
for (const dir of ['src', 'style']) {
  for (const name of fs.readdirSync(path.join(root, dir)).sort()) {
    files.push(`${dir}/${name}`);
  }
}
const hash = crypto.createHash('sha256');
for (const file of files) {
  hash.update(file + '\0');
  hash.update(fs.readFileSync(path.join(root, file)).toString('utf8').replace(/\r\n/g, '\n'));
  hash.update('\0');
}
const out = path.resolve(root, '../src/nbmlops/labextension/build-stamp.json');
fs.writeFileSync(out, JSON.stringify({ sources: files, sha256: hash.digest('hex') }, null, 2) + '\n');
console.log(`wrote ${path.relative(root, out)}`);
