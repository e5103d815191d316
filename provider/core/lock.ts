/**
 * Per-key mutual exclusion inside one provider process. The map lives on globalThis because every
 * distinct serialized provider gets its own module scope, while all of them share the process.
 */
const LOCKS = Symbol.for("pulumi-deployment-authorization/locks");

type LockTable = Map<string, Promise<void>>;

function table(): LockTable {
  const holder = globalThis as typeof globalThis & { [LOCKS]?: LockTable };
  holder[LOCKS] ??= new Map();
  return holder[LOCKS];
}

export async function withLock<T>(key: string, work: () => Promise<T>): Promise<T> {
  const locks = table();
  const previous = locks.get(key) ?? Promise.resolve();
  let release!: () => void;
  const current = new Promise<void>((resolve) => (release = resolve));
  const tail = previous.then(() => current);
  locks.set(key, tail);
  await previous;
  try {
    return await work();
  } finally {
    release();
    if (locks.get(key) === tail) locks.delete(key);
  }
}
