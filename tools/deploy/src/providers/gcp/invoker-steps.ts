/** The invoker binding as a deploy step both GCP providers take after each function is deployed. */
import { join } from 'node:path';
import { jsonText } from '@mlops/storage';
import type { FunctionName } from '../../config.ts';
import type { DeployRun } from '../types.ts';
import { grantInvoker, invokerBinding, type IamApi } from './invoker.ts';
import type { GcpDeploySettings } from './settings.ts';

export async function planInvoker(run: DeployRun<GcpDeploySettings>, fn: FunctionName, dir: string): Promise<void> {
  const binding = invokerBinding(fn, run.settings);
  await run.write(join(dir, 'invoker-binding.json'), jsonText(binding));
  run.log(`would call ServicesClient.getIamPolicy, then setIamPolicy adding ${binding.member} as ${binding.role} unless present`);
  run.action(`iam ${fn}: ${binding.role} for ${binding.member}`);
}

export async function applyInvoker(run: DeployRun<GcpDeploySettings>, fn: FunctionName, dir: string, api: IamApi): Promise<void> {
  const binding = invokerBinding(fn, run.settings);
  await run.write(join(dir, 'invoker-binding.json'), jsonText(binding), { show: false });
  const outcome = await grantInvoker(api, binding);
  run.log(`${fn}: ${binding.role} for ${binding.member} ${outcome}`);
  run.action(`iam ${fn}: ${outcome}`);
}
