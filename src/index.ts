/**
 * The package entry (`import { defineLock } from 'autoctrl'`): what a site
 * needs to write plugins (lock kinds, run sources) with full types, the
 * contracts of the pluggable parts, and the conformance suites a new store or
 * executor backend must pass. The CLI is the `autoctrl` binary, not this.
 */

export { z } from 'zod';
export type { Deployment, TaskConfig } from './config/types.ts';
export { AutoctrlError } from './errors.ts';
export type {
  ConformanceOptions,
  ConformanceTarget,
} from './executors/conformance.ts';
export { runExecutorConformance } from './executors/conformance.ts';
export type {
  Executor,
  ExecutorContext,
  ExecutorFactory,
  ExecutorJobState,
  JobLaunch,
  JobRef,
} from './executors/contract.ts';
export type {
  Lock,
  LockContext,
  LockKind,
  LockResult,
  LockTarget,
  PassMemo,
} from './locks/contract.ts';
export type { Logger } from './logger.ts';
export type {
  EventRecord,
  Instance,
  InstanceStatus,
  Job,
  JobStatus,
  Meta,
  Output,
  OutputInput,
  Run,
  RunInput,
  RunStatus,
} from './model/types.ts';
export {
  defineLock,
  defineSource,
  type LockDefinition,
  type SourceDefinition,
  type SourceKindDef,
} from './plugins/define.ts';
export { PluginError } from './plugins/errors.ts';
export type { Source, SourceContext, SourcePoll } from './sources/contract.ts';
export { durationOption, LUMI_UNITS, type LumiUnit, toEpochMs } from './sources/fields.ts';
export { type GetJsonOptions, getJson, HttpGetError } from './sources/http/get-json.ts';
export { createHttpSource } from './sources/http/index.ts';
export { runStoreConformance } from './store/conformance.ts';
export type { StateStore } from './store/contract.ts';
