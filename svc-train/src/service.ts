import { bindService, type ServiceBinding, type ServiceDeps } from '@lab/common';
import { TrainServiceService } from '@lab/proto/train';

/** RPCs this build implements; the others answer UNIMPLEMENTED until their issue lands. */
export function buildTrainService(_deps: ServiceDeps): ServiceBinding {
  return bindService(TrainServiceService, {});
}
