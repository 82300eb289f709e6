import { bindService, type ServiceBinding, type ServiceDeps } from '@lab/common';
import { EvalServiceService } from '@lab/proto/eval';

/** RPCs this build implements; the others answer UNIMPLEMENTED until their issue lands. */
export function buildEvalService(_deps: ServiceDeps): ServiceBinding {
  return bindService(EvalServiceService, {});
}
