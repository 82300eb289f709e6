import { bindService, type ServiceBinding, type ServiceDeps } from '@lab/common';
import { InferServiceService } from '@lab/proto/infer';

/** RPCs this build implements; the others answer UNIMPLEMENTED until their issue lands. */
export function buildInferService(_deps: ServiceDeps): ServiceBinding {
  return bindService(InferServiceService, {});
}
