// Serves the web UI: the files of ./ui beside this module (copied there from src/mgmt/ui by
// the build), read once at start and kept in memory. Any path that is not a file gets
// index.html, so the UI's own routes (#/queues) survive a reload.

import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { HttpReply } from './http-server.js';

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
};

export class StaticFiles {
  private readonly files = new Map<string, { body: Buffer; contentType: string }>();

  constructor(directory = fileURLToPath(new URL('./ui/', import.meta.url))) {
    if (!existsSync(directory)) return;
    for (const name of readdirSync(directory)) {
      const contentType = CONTENT_TYPES[extname(name)];
      if (contentType === undefined) continue;
      this.files.set(name, { body: readFileSync(join(directory, name)), contentType });
    }
  }

  /** The reply for a GET of `segments` (the decoded path), or null when there is no UI. */
  reply(segments: string[]): HttpReply | null {
    const name = segments.length === 1 ? segments[0]! : '';
    const file = this.files.get(name === '' ? 'index.html' : name) ?? this.files.get('index.html');
    if (file === undefined) return null;
    return { status: 200, contentType: file.contentType, body: file.body };
  }
}
