/* lunet: float32 tensors and neural-network primitives in C11.
 *
 * A short tour. Tensors are value structs over reference-counted storage:
 *
 *     ln_tensor x = {0}, p = {0};
 *     int64_t shape[2] = {4, 10};               // 4 samples, 10 classes
 *     if (ln_tensor_alloc(&x, 2, shape)) ...    // uninitialised storage
 *     ln_randn(&x);                              // fill from the seeded generator
 *     ln_tensor_alloc(&p, 2, shape);
 *     if (ln_softmax(&p, &x, 1)) ...            // dims are 0-based here
 *     ln_tensor_release(&x);
 *     ln_tensor_release(&p);
 *
 * Every function that can fail returns an ln_status and leaves a message in
 * ln_last_error(); nothing aborts. Output tensors come first in argument
 * lists, then inputs, then options; a function writing into an [OUT] tensor
 * checks its shape. Views (ln_transpose, ln_narrow, ...) share storage, and
 * each view must be released like any tensor.
 *
 * Headers by concept:
 *   status.h       error status and messages
 *   tensor.h       storage, shapes, views, copies, broadcasting
 *   random.h       the seeded generator
 *   parallel.h     thread count and interruption
 *   elementwise.h  arithmetic, math functions, comparisons
 *   reduce.h       sum, mean, max, min, argmax, argmin
 *   softmax.h      softmax, log-softmax, logsumexp
 *   matmul.h       matrix products through OpenBLAS
 *   topk.h         top-k selection and sorting
 *   nn/linear.h    fully connected layer, forward and backward
 *   nn/conv2d.h    2-d convolution, forward and backward
 *   nn/activation.h  leaky ReLU and the gradients of activations
 *   nn/pool.h      max, average and adaptive average 2-d pooling
 *   nn/batchnorm.h  batch normalization, forward and backward
 *   nn/loss.h      cross entropy, NLL, MSE and BCE losses and their gradients
 *   safetensors.h  reading and writing safetensors files
 *   idx.h          reading IDX files (MNIST, Fashion-MNIST)
 *   index_select.h gathering slices by index, for mini-batches
 *   image.h        decoding PNG, JPEG and BMP images, resize, crop, normalize
 */
#ifndef LUNET_H
#define LUNET_H

#define LUNET_VERSION "0.1.0"

#include "status.h"
#include "tensor.h"
#include "random.h"
#include "parallel.h"
#include "elementwise.h"
#include "reduce.h"
#include "softmax.h"
#include "matmul.h"
#include "topk.h"
#include "nn/linear.h"
#include "nn/conv2d.h"
#include "nn/activation.h"
#include "nn/pool.h"
#include "nn/batchnorm.h"
#include "nn/loss.h"
#include "safetensors.h"
#include "idx.h"
#include "index_select.h"
#include "image.h"

#endif
