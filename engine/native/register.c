// The library's entry point: ORT's RegisterCustomOpsLibrary calls RegisterCustomOps with each session's
// options, and the lab's operators are added there in the `lab.engine` domain.
#include "ort.h"

const char *LabLinearKernel(void);

OrtStatus *RegisterCustomOps(OrtSessionOptions *options, const OrtApiBase *base) {
  static OrtDomain *domain;
  Api api = base->GetApi(API_VERSION);
  /* An ORT without this API version: register nothing; a graph using the ops is then refused by name. */
  if (!api) return NULL;
  LabLinearKernel(); /* selects the widest kernel unless one was chosen */
  OrtStatus *st = NULL;
  if (!domain) {
    st = CALL(api, CREATE_CUSTOM_OP_DOMAIN, OrtStatus * (*)(const char *, OrtDomain **))("lab.engine", &domain);
    typedef OrtStatus *(*Add)(OrtDomain *, const Op *);
    if (!st) st = CALL(api, CUSTOM_OP_DOMAIN_ADD, Add)(domain, &lab_linear_op);
    if (!st) st = CALL(api, CUSTOM_OP_DOMAIN_ADD, Add)(domain, &lab_attention_op);
    if (st) {
      domain = NULL;
      return st;
    }
  }
  return CALL(api, ADD_CUSTOM_OP_DOMAIN, OrtStatus * (*)(OrtSessionOptions *, OrtDomain *))(options, domain);
}
