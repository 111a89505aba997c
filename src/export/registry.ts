import type { z } from 'zod';
import type { ExporterFactory } from './contract.ts';
import { influxOptions } from './influx/options.ts';

/** Exporter kinds: options checked when the file loads, code imported only when configured. */
export interface ExporterKind {
  options: z.ZodType<Record<string, unknown>>;
  load(): Promise<ExporterFactory>;
}

export const exporterKinds = {
  /** InfluxDB 1.x (`/write`, line protocol): what the seed's Grafana reads. */
  influx: {
    options: influxOptions,
    load: async () => (await import('./influx/index.ts')).createInfluxExporter,
  },
} satisfies Record<string, ExporterKind>;
