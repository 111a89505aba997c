import { AutoctrlError } from '../errors.ts';

/**
 * A plugin that cannot be used: missing, broken, or misbehaving at run time.
 * The message names the plugin file (and the lock kind or source type) so the
 * person reading a log knows whose code to look at.
 */
export class PluginError extends AutoctrlError {
  constructor(
    /** Absolute path of the plugin module. */
    readonly plugin: string,
    /** `lock <kind>` or `source <type>`, when the problem is in one definition. */
    readonly definition: string | null,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(
      'plugin_failed',
      `plugin ${plugin}${definition === null ? '' : ` (${definition})`}: ${message}`,
      options,
    );
  }
}
