/** Test helper: fetches a Prometheus text page and reads the value of a series by name and labels. */

/** One series of a scrape. */
export interface Series {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** A parsed scrape. */
export interface Scrape {
  status: number;
  contentType: string | null;
  text: string;
  series: Series[];
  /** The sum of the series named `name` whose labels include `labels` (0 when none). */
  sum(name: string, labels?: Record<string, string>): number;
  /** Whether some series is named `name` (with `labels`, when given). */
  has(name: string, labels?: Record<string, string>): boolean;
}

/** Parses the Prometheus text exposition format (comments skipped). */
export function parseScrape(text: string): Series[] {
  const series: Series[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) throw new Error(`not a Prometheus sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[l[1] as string] = (l[2] as string).replace(/\\(.)/g, '$1');
    series.push({ name: m[1] as string, labels, value: Number(m[3]) });
  }
  return series;
}

/** GETs `url` (headers optional) and parses it when it answered 200. */
export async function scrape(url: string, headers: Record<string, string> = {}): Promise<Scrape> {
  const res = await fetch(url, { headers });
  const text = await res.text();
  const series = res.status === 200 ? parseScrape(text) : [];
  const matches = (s: Series, name: string, labels: Record<string, string>) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v);
  return {
    status: res.status,
    contentType: res.headers.get('content-type'),
    text,
    series,
    sum: (name, labels = {}) => series.filter((s) => matches(s, name, labels)).reduce((n, s) => n + s.value, 0),
    has: (name, labels = {}) => series.some((s) => matches(s, name, labels)),
  };
}

/** GETs a health endpoint: its status and JSON body. */
export async function health(url: string): Promise<{ status: number; body: { ready?: boolean; reason?: string; ok?: boolean; [k: string]: unknown } }> {
  const res = await fetch(url);
  return { status: res.status, body: (await res.json()) as { ready?: boolean; reason?: string } };
}
