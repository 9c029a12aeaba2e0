/* SPDX-License-Identifier: MIT */
/* ml_errdesc: strerrordesc_np of our own (src/errdesc.c), for glibc older than 2.32
 * and for musl. */
#ifndef ML_ERRDESC_H
#define ML_ERRDESC_H

const char *ml_errdesc(int err);

#endif
