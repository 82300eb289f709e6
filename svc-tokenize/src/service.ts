import { bindService, type ServiceBinding, type ServiceDeps } from '@lab/common';
import { TokenizeServiceService } from '@lab/proto/tokenize';

/** RPCs this build implements; the others answer UNIMPLEMENTED until their issue lands. */
export function buildTokenizeService(_deps: ServiceDeps): ServiceBinding {
  return bindService(TokenizeServiceService, {});
}
