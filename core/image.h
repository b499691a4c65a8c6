/* Images: decoding PNG, JPEG and BMP files, and torchvision's resize,
 * center crop and normalize on float tensors.
 *
 * Decoded images are 3 x H x W float tensors in [0, 1], channels in RGB
 * order, as torchvision's ToTensor gives: grey images are repeated into the
 * three channels, and an alpha channel is dropped (not composited). 16-bit
 * PNGs keep their precision (divided by 65535). Decoding uses Debian's
 * stb_image, so JPEG pixels may differ from libjpeg's by a few levels.
 *
 * The transforms work on the last two dims (H, W) of any tensor of rank 2
 * or more, so a batch N x C x H x W works as well as one C x H x W image. */
#ifndef LUNET_IMAGE_H
#define LUNET_IMAGE_H

#include <stddef.h>

#include "tensor.h"

/* Images with more pixels than this are rejected before their pixels are
 * allocated: a 14-byte header can claim 2^31 x 2^31 pixels. The limit allows
 * 16384 x 16384 (a 3.2 GB float tensor). */
#ifndef LN_IMAGE_MAX_PIXELS
#define LN_IMAGE_MAX_PIXELS (16384LL * 16384)
#endif

/* new: decodes the PNG, JPEG or BMP image in data (size bytes) into a
 * 3 x H x W tensor. label names the image in messages. Fails with LN_EIO:
 * "LABEL: corrupt or unsupported image (<decoder reason>)", or a message
 * naming the size when the image is larger than LN_IMAGE_MAX_PIXELS. */
ln_status ln_image_decode(ln_tensor *out, const void *data, size_t size, const char *label);

/* new: reads and decodes the image file at path, as ln_image_decode. */
ln_status ln_image_load(ln_tensor *out, const char *path);

/* The size that torchvision's Resize(size) gives an image of height x width
 * when size is one number: the shorter side becomes size and the longer one
 * keeps the aspect ratio, truncated (int(size * long / short)). */
void ln_image_resized_shape(int64_t height, int64_t width, int64_t size, int64_t *out_height,
                            int64_t *out_width);

/* [OUT] out = bilinear resize of in over its last two dims to out's, as
 * torch.nn.functional.interpolate(mode="bilinear", align_corners=False,
 * antialias=False), which torchvision's resize uses on tensors: pixel
 * centres map by scale = in / out with half-pixel offsets. The leading dims
 * of out and in must match, and every size must be positive. */
ln_status ln_image_resize(ln_tensor *out, const ln_tensor *in);

/* [OUT] out = the centre crop of in over its last two dims to out's size, as
 * torchvision's center_crop: the offset is round((size - crop) / 2) with
 * Python's round-half-to-even, and where the crop is larger than the image,
 * the image is padded with zeros, (crop - size) / 2 before (rounded down). */
ln_status ln_image_center_crop(ln_tensor *out, const ln_tensor *in);

/* [OUT] out = (in - mean[c]) / std[c] for each channel c of dim ndim - 3, as
 * torchvision's normalize. in and out have the same shape, of rank 3 or
 * more; mean and std have one entry per channel, and no std may be 0. */
ln_status ln_image_normalize(ln_tensor *out, const ln_tensor *in, const float *mean,
                             const float *std);

#endif
