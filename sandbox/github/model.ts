/**
 * The git side of the GitHub stand-in: blobs, flat trees, commits with parents, and branches.
 * Just enough git to answer compare, contents, refs and the git data API the way GitHub does.
 * Blob SHAs are real git blob hashes; tree and commit SHAs are SHA-1s of a canonical form
 * (not byte-compatible with git, which nothing here needs). Commit times come from a counter,
 * so two commits with the same tree and parent still get different SHAs, as in real git.
 */
import { createHash } from 'node:crypto';

export interface CommitObject {
  sha: string;
  tree: string;
  parents: string[];
  message: string;
  /** ISO time, from a counter: one second per commit after 2026-01-01. */
  date: string;
  /** Creation order, for GitHub's chronological commit lists. */
  seq: number;
}

export type FileStatus = 'added' | 'removed' | 'modified';

export interface FileDiff {
  filename: string;
  status: FileStatus;
  /** The blob at head; for a removed file, the blob at base. */
  sha: string;
  additions: number;
  deletions: number;
}

/** A git tree entry as the trees API lists it (`recursive` includes directories as trees). */
export interface TreeEntry {
  path: string;
  mode: string;
  type: 'blob' | 'tree';
  sha: string;
  size?: number;
}

const EPOCH = Date.UTC(2026, 0, 1);

export class GitModel {
  readonly blobs = new Map<string, Buffer>();
  /** tree sha -> (path -> blob sha); paths are full paths, directories are implied. */
  readonly trees = new Map<string, Map<string, string>>();
  readonly commits = new Map<string, CommitObject>();
  readonly branches = new Map<string, string>();
  private seq = 0;

  putBlob(content: string | Buffer): string {
    const bytes = typeof content === 'string' ? Buffer.from(content, 'utf8') : content;
    const sha = sha1(Buffer.concat([Buffer.from(`blob ${bytes.length}\0`), bytes]));
    this.blobs.set(sha, bytes);
    return sha;
  }

  putTree(entries: Map<string, string>): string {
    const sorted = [...entries].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    const sha = sha1(Buffer.from(sorted.map(([p, s]) => `100644 ${p}\0${s}\n`).join('')));
    this.trees.set(sha, new Map(sorted));
    return sha;
  }

  createCommit(tree: string, parents: string[], message: string): CommitObject {
    const seq = ++this.seq;
    const date = new Date(EPOCH + seq * 1000).toISOString().replace('.000Z', 'Z');
    const text = `tree ${tree}\n${parents.map((p) => `parent ${p}\n`).join('')}date ${date}\n\n${message}`;
    const commit: CommitObject = {
      sha: sha1(Buffer.from(text)),
      tree,
      parents,
      message,
      date,
      seq,
    };
    this.commits.set(commit.sha, commit);
    return commit;
  }

  /**
   * A commit on `branch` that applies `changes` (null deletes a path) to its tip; a missing
   * branch starts from `from` (a ref). Returns the new commit's SHA.
   */
  commitOnBranch(
    branch: string,
    changes: Record<string, string | null>,
    message: string,
    from: string,
  ): string {
    const parentSha = this.branches.get(branch) ?? this.resolve(from);
    if (parentSha === undefined) throw new Error(`No branch "${branch}" and no ref "${from}".`);
    const parent = this.commit(parentSha);
    const entries = new Map(this.trees.get(parent.tree));
    for (const [path, content] of Object.entries(changes)) {
      if (content === null) entries.delete(path);
      else entries.set(path, this.putBlob(content));
    }
    const commit = this.createCommit(this.putTree(entries), [parentSha], message);
    this.branches.set(branch, commit.sha);
    return commit.sha;
  }

  commit(sha: string): CommitObject {
    const commit = this.commits.get(sha);
    if (!commit) throw new Error(`No commit ${sha}.`);
    return commit;
  }

  /**
   * A ref as GitHub's REST API takes one: a branch name (also `heads/x`, `refs/heads/x`), a
   * full commit SHA, or an abbreviated one of 7+ hex digits that is unique.
   */
  resolve(ref: string): string | undefined {
    const branch = ref.replace(/^refs\//, '').replace(/^heads\//, '');
    const tip = this.branches.get(branch);
    if (tip !== undefined) return tip;
    if (!/^[0-9a-f]{7,40}$/.test(ref)) return undefined;
    if (this.commits.has(ref)) return ref;
    const matches = [...this.commits.keys()].filter((sha) => sha.startsWith(ref));
    return matches.length === 1 ? matches[0] : undefined;
  }

  /** Path -> content at a commit. */
  files(commitSha: string): Map<string, string> {
    const out = new Map<string, string>();
    for (const [path, blob] of this.trees.get(this.commit(commitSha).tree) ?? []) {
      out.set(path, (this.blobs.get(blob) ?? Buffer.alloc(0)).toString('utf8'));
    }
    return out;
  }

  treeOf(commitSha: string): Map<string, string> {
    return this.trees.get(this.commit(commitSha).tree) ?? new Map();
  }

  ancestors(sha: string): Set<string> {
    const seen = new Set<string>();
    const stack = [sha];
    while (stack.length) {
      const next = stack.pop() as string;
      if (seen.has(next)) continue;
      seen.add(next);
      stack.push(...this.commit(next).parents);
    }
    return seen;
  }

  /** The newest common ancestor of two commits (by creation order), or undefined. */
  mergeBase(a: string, b: string): string | undefined {
    const ofA = this.ancestors(a);
    let best: CommitObject | undefined;
    for (const sha of this.ancestors(b)) {
      if (!ofA.has(sha)) continue;
      const c = this.commit(sha);
      if (!best || c.seq > best.seq) best = c;
    }
    return best?.sha;
  }

  /** Commits reachable from `head` but not from `base`, oldest first (GitHub's order). */
  commitsBetween(base: string, head: string): CommitObject[] {
    const fromBase = this.ancestors(base);
    return [...this.ancestors(head)]
      .filter((sha) => !fromBase.has(sha))
      .map((sha) => this.commit(sha))
      .sort((x, y) => x.seq - y.seq);
  }

  /** Files that differ between two commits' trees, sorted by path. */
  diff(baseSha: string, headSha: string): FileDiff[] {
    const base = this.treeOf(baseSha);
    const head = this.treeOf(headSha);
    const paths = [...new Set([...base.keys(), ...head.keys()])].sort();
    const out: FileDiff[] = [];
    for (const filename of paths) {
      const before = base.get(filename);
      const after = head.get(filename);
      if (before === after) continue;
      const lines = (blob: string | undefined): number =>
        blob === undefined ? 0 : lineCount(this.blobs.get(blob));
      if (before === undefined) {
        out.push({
          filename,
          status: 'added',
          sha: after as string,
          additions: lines(after),
          deletions: 0,
        });
      } else if (after === undefined) {
        out.push({
          filename,
          status: 'removed',
          sha: before,
          additions: 0,
          deletions: lines(before),
        });
      } else {
        out.push({
          filename,
          status: 'modified',
          sha: after,
          additions: lines(after),
          deletions: lines(before),
        });
      }
    }
    return out;
  }

  /** A tree as the trees API lists it: top level only, or every entry with `recursive`. */
  listTree(treeSha: string, recursive: boolean): TreeEntry[] {
    const flat = this.trees.get(treeSha) ?? new Map<string, string>();
    const dirs = new Map<string, string[]>();
    for (const path of flat.keys()) {
      const parts = path.split('/');
      for (let i = 1; i < parts.length; i++) {
        const dir = parts.slice(0, i).join('/');
        dirs.set(dir, [...(dirs.get(dir) ?? []), path]);
      }
    }
    const entries: TreeEntry[] = [];
    for (const [dir, paths] of dirs) {
      const sub = paths.map((p) => `${p}\0${flat.get(p)}`).join('\n');
      entries.push({
        path: dir,
        mode: '040000',
        type: 'tree',
        sha: sha1(Buffer.from(`tree ${sub}`)),
      });
    }
    for (const [path, sha] of flat) {
      entries.push({
        path,
        mode: '100644',
        type: 'blob',
        sha,
        size: this.blobs.get(sha)?.length ?? 0,
      });
    }
    entries.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
    return recursive ? entries : entries.filter((e) => !e.path.includes('/'));
  }
}

function lineCount(bytes: Buffer | undefined): number {
  if (!bytes || bytes.length === 0) return 0;
  const text = bytes.toString('utf8');
  return text.split('\n').length - (text.endsWith('\n') ? 1 : 0);
}

export function sha1(bytes: Buffer): string {
  return createHash('sha1').update(bytes).digest('hex');
}
