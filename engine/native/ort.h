// The parts of ONNX Runtime's C API the lab's operators use, declared here so that no ORT header is needed:
// API entries are called through their slots in the OrtApi table (ORT only appends to it, so the slots hold
// for every release offering API_VERSION), and the structure ORT reads from us is declared with the members
// of the version we report.
#ifndef LAB_ORT_H
#define LAB_ORT_H

#include <stddef.h>
#include <stdint.h>

#define API_VERSION 23
#define OP_VERSION 16 /* OrtCustomOp members up to KernelComputeV2 */

typedef struct OrtStatus OrtStatus;
typedef struct OrtValue OrtValue;
typedef struct OrtKernelContext OrtKernelContext;
typedef struct OrtKernelInfo OrtKernelInfo;
typedef struct OrtShape OrtShape;
typedef struct OrtDomain OrtDomain;
typedef struct OrtSessionOptions OrtSessionOptions;
typedef void *const *Api;

typedef struct OrtApiBase {
  Api (*GetApi)(uint32_t version);
  const char *(*GetVersionString)(void);
} OrtApiBase;

enum { ELEM_FLOAT = 1, ELEM_INT32 = 6 };
enum { INPUT_REQUIRED = 0, INPUT_OPTIONAL = 1 };
enum { ORT_FAIL = 1, ORT_INVALID_ARGUMENT = 2 };

/* OrtCustomOp, version OP_VERSION. */
typedef struct Op {
  uint32_t version;
  void *(*CreateKernel)(const struct Op *, Api, const OrtKernelInfo *);
  const char *(*GetName)(const struct Op *);
  const char *(*GetExecutionProviderType)(const struct Op *);
  int (*GetInputType)(const struct Op *, size_t);
  size_t (*GetInputTypeCount)(const struct Op *);
  int (*GetOutputType)(const struct Op *, size_t);
  size_t (*GetOutputTypeCount)(const struct Op *);
  void (*KernelCompute)(void *, OrtKernelContext *);
  void (*KernelDestroy)(void *);
  int (*GetInputCharacteristic)(const struct Op *, size_t);
  int (*GetOutputCharacteristic)(const struct Op *, size_t);
  int (*GetInputMemoryType)(const struct Op *, size_t);
  int (*GetVariadicInputMinArity)(const struct Op *);
  int (*GetVariadicInputHomogeneity)(const struct Op *);
  int (*GetVariadicOutputMinArity)(const struct Op *);
  int (*GetVariadicOutputHomogeneity)(const struct Op *);
  OrtStatus *(*CreateKernelV2)(const struct Op *, Api, const OrtKernelInfo *, void **);
  OrtStatus *(*KernelComputeV2)(void *, OrtKernelContext *);
} Op;

/* OrtApi slots (onnxruntime_c_api.h member order). */
#define CREATE_STATUS 0
#define CREATE_CUSTOM_OP_DOMAIN 26
#define CUSTOM_OP_DOMAIN_ADD 27
#define ADD_CUSTOM_OP_DOMAIN 28
#define GET_TENSOR_MUTABLE_DATA 51
#define GET_DIMENSIONS_COUNT 61
#define GET_DIMENSIONS 62
#define GET_TENSOR_TYPE_AND_SHAPE 65
#define KERNEL_INFO_GET_ATTRIBUTE_INT64 86
#define KERNEL_CONTEXT_GET_INPUT_COUNT 88
#define KERNEL_CONTEXT_GET_INPUT 90
#define KERNEL_CONTEXT_GET_OUTPUT 91
#define RELEASE_STATUS 93
#define RELEASE_TENSOR_TYPE_AND_SHAPE_INFO 99
#define KERNEL_CONTEXT_PARALLEL_FOR 274

#define CALL(api, slot, type) ((type)(api)[slot])

/* The most dimensions a tensor of these operators has. */
#define MAX_RANK 8

/* An error status for ORT to report. */
OrtStatus *lab_fail(Api api, int code, const char *msg);

/* Input `index` (NULL where an optional input is absent); returns a status on error. */
OrtStatus *lab_input(Api api, OrtKernelContext *ctx, size_t index, const OrtValue **out);

/* A tensor's data and shape (rank ≤ MAX_RANK); returns its rank, or -1 with *status set. */
int lab_tensor(Api api, const OrtValue *v, void **data, int64_t *dims, OrtStatus **status);

/* Output `index` with shape `dims`, and its data; returns a status on error. */
OrtStatus *lab_output(Api api, OrtKernelContext *ctx, size_t index, const int64_t *dims, size_t rank, void **data);

/* An integer attribute of the node; returns a status where it is missing. */
OrtStatus *lab_attribute_int(Api api, const OrtKernelInfo *info, const char *name, int64_t *out);

/* Frees a status nobody will read (the v1 entry points return none). */
void lab_release_status(Api api, OrtStatus *status);

/* fn(data, i) for i in [0, tasks) on the session's intra-op threads. */
OrtStatus *lab_parallel(Api api, OrtKernelContext *ctx, void (*fn)(void *, size_t), size_t tasks, void *data);

/* OrtCustomOp members every lab operator fills alike: the CPU provider, every output required, default
   memory, no variadic inputs or outputs (LAB_OP_COMMON, in each operator's designated initializer). */
const char *lab_op_cpu(const Op *op);
int lab_op_output_required(const Op *op, size_t i);
int lab_op_default_memory(const Op *op, size_t i);
int lab_op_zero(const Op *op);
#define LAB_OP_COMMON                                                                                        \
  .version = OP_VERSION, .GetExecutionProviderType = lab_op_cpu, .GetOutputCharacteristic = lab_op_output_required, \
  .GetInputMemoryType = lab_op_default_memory, .GetVariadicInputMinArity = lab_op_zero,                     \
  .GetVariadicInputHomogeneity = lab_op_zero, .GetVariadicOutputMinArity = lab_op_zero,                     \
  .GetVariadicOutputHomogeneity = lab_op_zero

extern const Op lab_linear_op;
extern const Op lab_attention_op;

#endif
