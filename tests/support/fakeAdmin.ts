/** Calls a sandbox fake's admin API (/_fake/...): not the vendor's API, so never behind Prism. */
export async function fakeAdmin<T = unknown>(
  fakeUrl: string,
  method: string,
  path: string,
  body?: unknown,
): Promise<T> {
  const res = await fetch(`${fakeUrl}/_fake/${path}`, {
    method,
    headers: body === undefined ? {} : { "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} /_fake/${path}: ${res.status} ${text}`);
  return JSON.parse(text) as T;
}
