import { z } from 'zod';

const envName = z
  .string()
  .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'name an environment variable: letters, digits and _');

/**
 * `export: { influx: {...} }` of the deployment file. Credentials never sit in
 * the file: they come from the environment variables it names.
 */
export const influxOptions = z.strictObject({
  url: z
    .string()
    .regex(/^https?:\/\/[^/]+/, 'url must start with http:// or https://, e.g. http://influx:8086')
    .refine(
      (u) => !/^https?:\/\/[^/@]*@/.test(u),
      'put no credentials in the url: use username and password_env (or token_env)',
    ),
  database: z.string().min(1),
  /** The retention policy written into (`rp=`); default the database's default policy. */
  retention: z.string().min(1).nullish(),
  username: z.string().min(1).nullish(),
  password_env: envName.nullish(),
  /** InfluxDB 1.8+/2.x compatibility token (`Authorization: Token ...`). */
  token_env: envName.nullish(),
  /** Gzip request bodies: a tenth of the bytes over a slow link, more CPU on both sides. */
  gzip: z.boolean().nullish(),
});

export type InfluxOptions = z.output<typeof influxOptions>;
