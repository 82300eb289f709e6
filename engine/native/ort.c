// Small wrappers over the C API entries the operators call (see ort.h).
#include "ort.h"

OrtStatus *lab_fail(Api api, int code, const char *msg) {
  return CALL(api, CREATE_STATUS, OrtStatus * (*)(int, const char *))(code, msg);
}

OrtStatus *lab_input(Api api, OrtKernelContext *ctx, size_t index, const OrtValue **out) {
  size_t count = 0;
  *out = NULL;
  OrtStatus *st =
      CALL(api, KERNEL_CONTEXT_GET_INPUT_COUNT, OrtStatus * (*)(const OrtKernelContext *, size_t *))(ctx, &count);
  if (st || index >= count) return st;
  return CALL(api, KERNEL_CONTEXT_GET_INPUT, OrtStatus * (*)(const OrtKernelContext *, size_t, const OrtValue **))(
      ctx, index, out);
}

int lab_tensor(Api api, const OrtValue *v, void **data, int64_t *dims, OrtStatus **status) {
  OrtShape *info = NULL;
  size_t rank = 0;
  *status = CALL(api, GET_TENSOR_TYPE_AND_SHAPE, OrtStatus * (*)(const OrtValue *, OrtShape **))(v, &info);
  if (*status) return -1;
  *status = CALL(api, GET_DIMENSIONS_COUNT, OrtStatus * (*)(const OrtShape *, size_t *))(info, &rank);
  if (!*status && rank > MAX_RANK) *status = lab_fail(api, ORT_INVALID_ARGUMENT, "lab.engine: rank above 8");
  if (!*status)
    *status = CALL(api, GET_DIMENSIONS, OrtStatus * (*)(const OrtShape *, int64_t *, size_t))(info, dims, rank);
  CALL(api, RELEASE_TENSOR_TYPE_AND_SHAPE_INFO, void (*)(OrtShape *))(info);
  if (!*status)
    *status = CALL(api, GET_TENSOR_MUTABLE_DATA, OrtStatus * (*)(OrtValue *, void **))((OrtValue *)v, data);
  return *status ? -1 : (int)rank;
}

OrtStatus *lab_output(Api api, OrtKernelContext *ctx, size_t index, const int64_t *dims, size_t rank, void **data) {
  OrtValue *v = NULL;
  OrtStatus *st = CALL(api, KERNEL_CONTEXT_GET_OUTPUT,
                       OrtStatus * (*)(OrtKernelContext *, size_t, const int64_t *, size_t, OrtValue **))(
      ctx, index, dims, rank, &v);
  if (st) return st;
  return CALL(api, GET_TENSOR_MUTABLE_DATA, OrtStatus * (*)(OrtValue *, void **))(v, data);
}

OrtStatus *lab_parallel(Api api, OrtKernelContext *ctx, void (*fn)(void *, size_t), size_t tasks, void *data) {
  if (tasks == 1) {
    fn(data, 0);
    return NULL;
  }
  return CALL(api, KERNEL_CONTEXT_PARALLEL_FOR,
              OrtStatus * (*)(const OrtKernelContext *, void (*)(void *, size_t), size_t, size_t, void *))(
      ctx, fn, tasks, 0, data);
}

OrtStatus *lab_attribute_int(Api api, const OrtKernelInfo *info, const char *name, int64_t *out) {
  return CALL(api, KERNEL_INFO_GET_ATTRIBUTE_INT64, OrtStatus * (*)(const OrtKernelInfo *, const char *, int64_t *))(
      info, name, out);
}

void lab_release_status(Api api, OrtStatus *status) { CALL(api, RELEASE_STATUS, void (*)(OrtStatus *))(status); }

const char *lab_op_cpu(const Op *op) { return (void)op, NULL; }
int lab_op_output_required(const Op *op, size_t i) { return (void)op, (void)i, INPUT_REQUIRED; }
int lab_op_default_memory(const Op *op, size_t i) { return (void)op, (void)i, 0; }
int lab_op_zero(const Op *op) { return (void)op, 0; }
