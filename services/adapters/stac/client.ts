import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { SkypatrolError } from '../../core/errors.ts';
import type { StacItem } from '../../domain/catalog/stac.ts';

/**
 * Reading STAC from files and HTTP: single Items, ItemCollections, static Catalogs and
 * Collections (links walked recursively), and STAC API `POST /search` with paging.
 */
export interface LoadedItem {
  item: StacItem;
  /** Absolute URL the item's relative hrefs resolve against. */
  base: string;
}

export interface FetchOptions {
  timeoutMs?: number;
  retries?: number;
}

/** Turn a CLI argument (path or URL) into an absolute URL string. */
export function toUrl(source: string): string {
  if (/^(https?|file):\/\//i.test(source)) return source;
  return pathToFileURL(resolve(source)).toString();
}

async function fetchJson(url: string, init: RequestInit & FetchOptions = {}): Promise<unknown> {
  if (url.startsWith('file:')) {
    const path = fileURLToPath(url);
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch {
      throw new SkypatrolError('SCENE_NOT_FOUND', `${path} does not exist or cannot be read`);
    }
    try {
      return JSON.parse(text);
    } catch {
      throw new SkypatrolError('SCENE_INVALID', `${path} is not JSON`);
    }
  }
  const retries = init.retries ?? 2;
  let lastError: unknown;
  for (let attempt = 0; attempt <= retries; attempt++) {
    try {
      const res = await fetch(url, { ...init, signal: AbortSignal.timeout(init.timeoutMs ?? 15000) });
      if (res.status === 404) throw new SkypatrolError('SCENE_NOT_FOUND', `${url} answered 404`);
      if (res.status >= 500 || res.status === 429) throw new Error(`HTTP ${res.status}`);
      if (!res.ok) throw new SkypatrolError('SCENE_INVALID', `${url} answered HTTP ${res.status}`);
      try {
        return await res.json();
      } catch {
        throw new SkypatrolError('SCENE_INVALID', `${url} did not return JSON`);
      }
    } catch (err) {
      if (err instanceof SkypatrolError) throw err;
      lastError = err;
      if (attempt < retries) await new Promise((r) => setTimeout(r, 200 * 2 ** attempt));
    }
  }
  throw new SkypatrolError(
    'SCENE_UNREACHABLE',
    `${url} is unreachable: ${(lastError as Error)?.message ?? lastError}`,
    {
      cause: lastError,
      retryable: true,
    },
  );
}

function selfHref(doc: { links?: { rel: string; href: string }[] }, fallback: string): string {
  const self = doc.links?.find((l) => l.rel === 'self')?.href;
  // Static catalogs often carry absolute self links pointing where they were published;
  // where we actually read the document is the safer base.
  return self && /^https?:/.test(self) && /^https?:/.test(fallback) ? self : fallback;
}

/**
 * Load every Item reachable from a STAC document: an Item, an ItemCollection, or a
 * Catalog/Collection whose `item` and `child` links are followed (each document once,
 * at most `maxItems` items).
 */
export async function loadStac(
  source: string,
  options: FetchOptions & { maxItems?: number } = {},
): Promise<LoadedItem[]> {
  const maxItems = options.maxItems ?? 100_000;
  const items: LoadedItem[] = [];
  const seen = new Set<string>();
  const visit = async (url: string): Promise<void> => {
    if (seen.has(url) || items.length >= maxItems) return;
    seen.add(url);
    const doc = (await fetchJson(url, options)) as Record<string, unknown> & {
      links?: { rel: string; href: string }[];
    };
    const base = selfHref(doc, url);
    if (doc.type === 'Feature') {
      items.push({ item: doc as unknown as StacItem, base });
      return;
    }
    if (doc.type === 'FeatureCollection') {
      for (const f of (doc.features as StacItem[]) ?? [])
        if (items.length < maxItems) items.push({ item: f, base });
      return;
    }
    if (doc.type === 'Catalog' || doc.type === 'Collection') {
      for (const link of doc.links ?? []) {
        if (link.rel === 'item' || link.rel === 'child') await visit(new URL(link.href, base).toString());
      }
      return;
    }
    throw new SkypatrolError(
      'SCENE_INVALID',
      `${url} is not a STAC Item, ItemCollection, Catalog or Collection`,
    );
  };
  await visit(toUrl(source));
  return items;
}

export interface SearchParams {
  bbox?: [number, number, number, number];
  datetime?: string;
  collections?: string[];
  limit?: number;
  maxItems?: number;
}

/** STAC API item search: `POST {api}/search`, following `next` links (POST body merge or GET). */
export async function searchStacApi(
  api: string,
  params: SearchParams,
  options: FetchOptions = {},
): Promise<LoadedItem[]> {
  const maxItems = params.maxItems ?? 1000;
  const body: Record<string, unknown> = { limit: params.limit ?? 100 };
  if (params.bbox) body.bbox = params.bbox;
  if (params.datetime) body.datetime = params.datetime;
  if (params.collections?.length) body.collections = params.collections;
  let request: { url: string; method: 'GET' | 'POST'; body?: Record<string, unknown> } | null = {
    url: `${api.replace(/\/$/, '')}/search`,
    method: 'POST',
    body,
  };
  const items: LoadedItem[] = [];
  const seenPages = new Set<string>();
  while (request && items.length < maxItems) {
    const key = `${request.method} ${request.url} ${JSON.stringify(request.body ?? {})}`;
    if (seenPages.has(key)) break; // a server repeating its own page would loop forever
    seenPages.add(key);
    const page = (await fetchJson(request.url, {
      ...options,
      method: request.method,
      ...(request.method === 'POST'
        ? { body: JSON.stringify(request.body), headers: { 'content-type': 'application/json' } }
        : {}),
    })) as {
      type?: string;
      features?: StacItem[];
      links?: {
        rel: string;
        href: string;
        method?: string;
        body?: Record<string, unknown>;
        merge?: boolean;
      }[];
    };
    if (page.type !== 'FeatureCollection' || !Array.isArray(page.features)) {
      throw new SkypatrolError(
        'SCENE_INVALID',
        `${request.url}: the STAC API did not return an ItemCollection`,
      );
    }
    for (const f of page.features) if (items.length < maxItems) items.push({ item: f, base: request.url });
    const next = page.links?.find((l) => l.rel === 'next');
    if (!next || page.features.length === 0) request = null;
    else if ((next.method ?? 'GET').toUpperCase() === 'POST') {
      request = {
        url: new URL(next.href, request.url).toString(),
        method: 'POST',
        body: next.merge ? { ...request.body, ...next.body } : (next.body ?? request.body ?? {}),
      };
    } else request = { url: new URL(next.href, request.url).toString(), method: 'GET' };
  }
  return items;
}
