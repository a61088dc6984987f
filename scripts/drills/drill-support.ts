import { parseScrape, sumOf } from '@recipe-mesh/measure/metric-text';

/** A counter or gauge on a service's admin /metrics (summed over matching series). */
export async function metric(adminUrl: string, name: string, labels: Record<string, string> = {}): Promise<number> {
  const text = await (await fetch(`${adminUrl}/metrics`)).text();
  return sumOf(parseScrape(text), name, labels) ?? 0;
}
