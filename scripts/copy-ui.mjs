// Copies the management web UI (plain HTML, JS and CSS, no build step of its own) from
// src/mgmt/ui into dist/mgmt/ui, where the built server serves it from.
import { cpSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const target = join(root, 'dist/mgmt/ui');
rmSync(target, { recursive: true, force: true });
cpSync(join(root, 'src/mgmt/ui'), target, { recursive: true });
