import { statSync } from 'node:fs';
import { executorKinds } from '../executors/registry.ts';
import type { PathIssue } from './issues.ts';
import type { Deployment } from './types.ts';

/**
 * What the file names on this machine and must be there: each task's `cwd`
 * a directory, `data_dir` a directory or nothing yet (it is created), the
 * files executors read at start (`checkFiles` of their kind). Done
 * when the file is loaded or validated, not when a job first runs, so that
 * a typo is not a job failing for good.
 */
export function pathIssues(deployment: Deployment, given: RawPaths): PathIssue[] {
  const out: PathIssue[] = [];
  for (const task of deployment.tasks) {
    if (given.cwd.has(task.name) && kindOf(task.cwd) !== 'dir') {
      out.push({
        path: ['tasks', task.name, 'cwd'],
        at: 'node',
        message: `no directory ${task.cwd}: create it, or fix the path (relative to the deployment file)`,
      });
    }
  }
  for (const [name, cfg] of Object.entries(deployment.executors)) {
    for (const p of executorKinds[cfg.type]?.checkFiles?.(cfg.options, deployment.dir) ?? [])
      out.push({ path: ['executors', name, p.key], at: 'node', message: p.message });
  }
  if (given.dataDir && kindOf(deployment.dataDir) === 'other') {
    out.push({
      path: ['data_dir'],
      at: 'node',
      message: `${deployment.dataDir} is not a directory: point data_dir at a directory (it is created when missing)`,
    });
  }
  return out;
}

/** Which of the paths were written in the file (defaults are not checked: they are created). */
export interface RawPaths {
  cwd: Set<string>;
  dataDir: boolean;
}

function kindOf(path: string): 'dir' | 'missing' | 'other' {
  try {
    return statSync(path).isDirectory() ? 'dir' : 'other';
  } catch {
    return 'missing';
  }
}
