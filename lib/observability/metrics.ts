/**
 * The Prometheus endpoint's content: prom-client's own Registry (never the global one) with
 * Node process metrics (collectDefaultMetrics) and the gateway's metrics, which are read from
 * the StatsBook at scrape time rather than updated per request through prom-client: the hot
 * path only bumps typed-array counters. Labels are stage and route key (never raw paths),
 * so cardinality is bounded by the config.
 */
import type { Metric, Registry as RegistryType } from 'prom-client';
import {
  BUCKETS_MS,
  METHODS,
  UPSTREAM_KINDS,
  type Histogram,
  type RouteStats,
  type StatsBook,
} from './stats.ts';

type Labels = Record<string, string | number>;
interface Sample {
  value: number;
  labels: Labels;
  metricName?: string;
}

/** What the gateway tells the metrics besides per-route stats. */
export interface GatewayGauges {
  inFlight(): number;
  deploymentId(): string | null;
  readonly deploys: { ok: number; error: number };
}

const STATUS_CLASSES = ['0xx', '1xx', '2xx', '3xx', '4xx', '5xx'];
const LE = [...BUCKETS_MS.map((b) => String(b / 1000)), '+Inf'];

/** A metric computed on scrape; prom-client's Registry formats it. */
function computed(
  name: string,
  help: string,
  type: 'counter' | 'gauge' | 'histogram',
  values: () => Sample[],
): Metric {
  return {
    name,
    help,
    type,
    aggregator: 'sum',
    get: () => Promise.resolve({ name, help, type, aggregator: 'sum', values: values() }),
    reset() {},
  } as unknown as Metric;
}

function histogramSamples(name: string, h: Histogram, labels: Labels, out: Sample[]): void {
  let cumulative = 0;
  for (let b = 0; b < LE.length; b++) {
    cumulative += h.counts[b]!;
    out.push({
      metricName: `${name}_bucket`,
      labels: { ...labels, le: LE[b]! },
      value: cumulative,
    });
  }
  out.push({ metricName: `${name}_sum`, labels, value: h.sum / 1000 });
  out.push({ metricName: `${name}_count`, labels, value: h.count });
}

export async function createMetricsRegistry(
  book: StatsBook,
  gauges: GatewayGauges,
): Promise<RegistryType> {
  const prom = await import('prom-client');
  const registry = new prom.Registry();
  prom.collectDefaultMetrics({ register: registry });

  const perRoute =
    (fill: (s: RouteStats, labels: Labels, out: Sample[]) => void) => (): Sample[] => {
      const out: Sample[] = [];
      for (const s of book.all()) fill(s, { stage: s.stage, route: s.routeKey }, out);
      return out;
    };
  const counterOf = (field: 'throttled' | 'quotaExceeded' | 'unauthorized') =>
    perRoute((s, labels, out) => {
      if (s[field] > 0) out.push({ labels, value: s[field] });
    });

  const metrics = [
    computed(
      'portico_requests_total',
      'Requests by stage, route key, method and status class (0xx: the client left first).',
      'counter',
      perRoute((s, labels, out) => {
        for (let m = 0; m < METHODS.length; m++) {
          for (let c = 0; c < 6; c++) {
            const v = s.requests[m * 6 + c]!;
            if (v > 0)
              out.push({
                labels: { ...labels, method: METHODS[m]!, status_class: STATUS_CLASSES[c]! },
                value: v,
              });
          }
        }
      }),
    ),
    computed(
      'portico_request_duration_seconds',
      'Time from the request reaching the gateway to the response closing.',
      'histogram',
      perRoute((s, labels, out) =>
        histogramSamples('portico_request_duration_seconds', s.latency, labels, out),
      ),
    ),
    computed(
      'portico_integration_duration_seconds',
      'Time the integration took (upstream response or function invocation).',
      'histogram',
      perRoute((s, labels, out) => {
        if (s.integrationLatency.count > 0)
          histogramSamples(
            'portico_integration_duration_seconds',
            s.integrationLatency,
            { ...labels, integration: s.integration },
            out,
          );
      }),
    ),
    computed(
      'portico_throttled_total',
      'Requests refused by a throttle (429).',
      'counter',
      counterOf('throttled'),
    ),
    computed(
      'portico_quota_exceeded_total',
      'Requests refused by a usage-plan quota (429).',
      'counter',
      counterOf('quotaExceeded'),
    ),
    computed(
      'portico_unauthorized_total',
      'Requests refused by an authorizer or an API key check (401/403).',
      'counter',
      counterOf('unauthorized'),
    ),
    computed(
      'portico_upstream_errors_total',
      'Failed upstream requests by kind: timeout (503), unreachable (502), error (502).',
      'counter',
      perRoute((s, labels, out) => {
        for (let k = 0; k < UPSTREAM_KINDS.length; k++) {
          const v = s.upstreamErrors[k]!;
          if (v > 0)
            out.push({
              labels: { ...labels, integration: s.integration, kind: UPSTREAM_KINDS[k]! },
              value: v,
            });
        }
      }),
    ),
    computed('portico_requests_in_flight', 'Requests being served now.', 'gauge', () => [
      { labels: {}, value: gauges.inFlight() },
    ]),
    computed('portico_deployment_info', 'The live deployment (value 1).', 'gauge', () => {
      const id = gauges.deploymentId();
      return id === null ? [] : [{ labels: { id }, value: 1 }];
    }),
    computed('portico_deploys_total', 'Deploys since start, by result.', 'counter', () => [
      { labels: { result: 'ok' }, value: gauges.deploys.ok },
      { labels: { result: 'error' }, value: gauges.deploys.error },
    ]),
  ];
  for (const m of metrics) registry.registerMetric(m);
  return registry;
}
