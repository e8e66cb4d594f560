/**
 * An in-memory apiserver behind the KubeApi port: lists and objects by path, so a test states
 * what the cluster holds (CronJobs, Jobs, pods, bindings) and asserts what was deleted. A path
 * it does not know answers 404, as the apiserver does for a resource that is not installed.
 */
import { KubeApiError, KubeUnreachableError, type KubeApi } from '../../src/kube/api.js';

interface Item {
  metadata?: {
    name?: string;
    namespace?: string;
    finalizers?: string[];
    deletionTimestamp?: string;
  };
}

export class FakeKubeApi implements KubeApi {
  /** GET answers: path (with query) -> body. A list path answers `{ items }`. */
  readonly objects = new Map<string, unknown>();
  readonly deleted: string[] = [];
  readonly patched: string[] = [];
  /** When set, every call fails as an apiserver that does not answer. */
  unreachable = false;
  closed = false;

  constructor(readonly cluster: string) {}

  /** Sets a list: `items` at `path`. */
  list(path: string, items: unknown[]): this {
    this.objects.set(path, { items });
    return this;
  }

  private check(method: string, path: string): void {
    if (this.unreachable) {
      throw new KubeUnreachableError(this.cluster, method, path, false, 'ECONNREFUSED');
    }
  }

  async get<T>(path: string): Promise<T> {
    this.check('GET', path);
    if (!this.objects.has(path)) {
      throw new KubeApiError(
        this.cluster,
        404,
        'GET',
        path,
        '{"message":"the server could not find the requested resource"}',
      );
    }
    return structuredClone(this.objects.get(path)) as T;
  }

  async find<T>(path: string): Promise<T | undefined> {
    this.check('GET', path);
    return this.objects.has(path) ? (structuredClone(this.objects.get(path)) as T) : undefined;
  }

  async post<T>(path: string): Promise<T> {
    this.check('POST', path);
    throw new Error(`FakeKubeApi: POST ${path} is not expected`);
  }

  async mergePatch<T>(path: string): Promise<T> {
    this.check('PATCH', path);
    this.patched.push(path);
    throw new Error(`FakeKubeApi: PATCH ${path} is not expected`);
  }

  /** Called after each delete, e.g. to model a controller that deregisters targets. */
  onDelete: (path: string) => void = () => undefined;

  /**
   * Deletes the object and takes it out of the list of its kind, as the apiserver does; one
   * with finalizers stays listed with a deletionTimestamp until they are removed.
   */
  async delete(path: string): Promise<void> {
    this.check('DELETE', path);
    this.deleted.push(path);
    this.objects.delete(path);
    const m = /^(.*)\/namespaces\/([^/]+)\/([^/]+)\/([^/]+)$/.exec(path);
    if (m) {
      const [, group, namespace, resource, name] = m as unknown as string[];
      const listPath = `${group}/${resource}`;
      const list = this.objects.get(listPath) as { items: Item[] } | undefined;
      if (list) {
        list.items = list.items.flatMap((item) => {
          const meta = item.metadata;
          if (!meta || meta.namespace !== namespace || meta.name !== name) return [item];
          if ((meta.finalizers ?? []).length === 0) return [];
          return [{ ...item, metadata: { ...meta, deletionTimestamp: '2026-11-30T21:00:00Z' } }];
        });
      }
    }
    this.onDelete(path);
  }

  close(): void {
    this.closed = true;
  }
}
