import { bindService, type ServiceBinding, type ServiceDeps } from '@lab/common';
import { DataServiceService } from '@lab/proto/data';

/** RPCs this build implements; the others answer UNIMPLEMENTED until their issue lands. */
export function buildDataService(_deps: ServiceDeps): ServiceBinding {
  return bindService(DataServiceService, {});
}
