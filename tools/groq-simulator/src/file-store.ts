import { mkdtempSync, rmSync, statSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ulidId } from './determinism.js';

export type FilePurpose = 'batch' | 'batch_output';

/** The Files API object, as Groq returns it. */
export interface FileObject {
  id: string;
  object: 'file';
  bytes: number;
  created_at: number;
  filename: string;
  purpose: FilePurpose;
}

interface StoredFile {
  info: FileObject;
  path: string;
  /** Batches still reading the file: a delete then only hides it, the bytes go when they finish. */
  readers: number;
  deleted: boolean;
}

/** Uploaded and produced files, kept on disk in a directory of the simulator's own. */
export class FileStore {
  readonly dir: string;
  private readonly files = new Map<string, StoredFile>();

  constructor(private readonly nowSeconds: () => number) {
    this.dir = mkdtempSync(join(tmpdir(), 'groq-simulator-'));
  }

  /** A fresh path inside the store's directory for a file being written. */
  scratchPath(name: string): string {
    return join(this.dir, `${ulidId(name)}.jsonl`);
  }

  /** Registers a finished file; it must already be inside the store's directory. */
  add(path: string, filename: string, purpose: FilePurpose): FileObject {
    const info: FileObject = { id: ulidId('file'), object: 'file', bytes: statSync(path).size, created_at: this.nowSeconds(), filename, purpose };
    this.files.set(info.id, { info, path, readers: 0, deleted: false });
    return info;
  }

  get(id: string): { info: FileObject; path: string } | undefined {
    const file = this.files.get(id);
    return file && !file.deleted ? { info: file.info, path: file.path } : undefined;
  }

  list(): FileObject[] {
    return [...this.files.values()].filter((f) => !f.deleted).map((f) => f.info).sort((a, b) => b.created_at - a.created_at);
  }

  delete(id: string): boolean {
    const file = this.files.get(id);
    if (!file || file.deleted) return false;
    file.deleted = true;
    if (file.readers === 0) this.remove(id);
    return true;
  }

  retain(id: string): string {
    const file = this.files.get(id);
    if (!file || file.deleted) throw new Error(`file ${id} does not exist`);
    file.readers++;
    return file.path;
  }

  release(id: string): void {
    const file = this.files.get(id);
    if (!file) return;
    file.readers--;
    if (file.deleted && file.readers <= 0) this.remove(id);
  }

  /** Removes every file and the directory itself. */
  destroy(): void {
    this.files.clear();
    rmSync(this.dir, { recursive: true, force: true });
  }

  private remove(id: string): void {
    const file = this.files.get(id);
    this.files.delete(id);
    if (file) unlinkSync(file.path);
  }
}

export function discard(path: string): void {
  rmSync(path, { force: true });
}
