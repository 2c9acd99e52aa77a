/* SPDX-License-Identifier: MIT */
/* The .npy format (version 1.0/2.0, little-endian, C order) for the dtypes dashid
 * exchanges. Shared by the daemon (blob store) and the client. */
#ifndef DASHI_NPY_H
#define DASHI_NPY_H

#include <stddef.h>
#include <stdint.h>

#include "errors.h"

enum npy_dtype { NPY_F8, NPY_F4, NPY_I8, NPY_I4, NPY_I2, NPY_I1, NPY_U1, NPY_DTYPE_COUNT };

#define NPY_MAX_DIMS 4

struct npy_info {
    enum npy_dtype dtype;
    int ndim;                     /* 0..NPY_MAX_DIMS */
    uint64_t shape[NPY_MAX_DIMS];
    size_t header_len;            /* bytes before the data */
    uint64_t count;               /* product of shape (1 for ndim 0) */
    uint64_t nbytes;              /* count * item size */
};

/* The most bytes a header (preamble included) may take. numpy's own writers stay far
 * below it for the plain dtypes above; a limit lets a streaming reader buffer the header. */
#define NPY_HEADER_MAX 65536

size_t npy_item_size(enum npy_dtype t);
const char *npy_dtype_descr(enum npy_dtype t); /* "<f8", "|u1", ... */
const char *npy_dtype_name(enum npy_dtype t);  /* "f8", "u1", ... */

/* Parses the header at p[0..n): magic, version, the dict with 'descr', 'fortran_order'
 * (must be False), 'shape'. Rejects big-endian, unknown dtypes, > NPY_MAX_DIMS dims and
 * shapes whose byte size overflows. E_BAD_VALUE with field "npy" on failure. */
int npy_parse_header(const uint8_t *p, size_t n, struct npy_info *info, struct dashi_error *err);
/* From the first n bytes of a file: sets *len to the header's total length (preamble
 * included) once the preamble is complete, or to 0 when more bytes are needed. Checks
 * only the magic, the version and NPY_HEADER_MAX (E_BAD_VALUE "npy"). */
int npy_header_length(const uint8_t *p, size_t n, size_t *len, struct dashi_error *err);
/* Builds a version 1.0 header (padded to a multiple of 64 bytes) into buf; returns its
 * length, or 0 if cap is too small. Fills info->header_len/count/nbytes as well. */
size_t npy_make_header(char *buf, size_t cap, struct npy_info *info);
/* Whole-file helpers. npy_load checks the file holds exactly header + nbytes. */
int npy_load(const char *path, struct npy_info *info, void **data, struct dashi_error *err);
int npy_save(const char *path, enum npy_dtype dtype, int ndim, const uint64_t *shape, const void *data,
             struct dashi_error *err);

/* Writes all n bytes to fd (retrying short writes and EINTR): 0, or -1 with errno set.
 * For .npy files here and the blob store's files. */
int fd_write_full(int fd, const void *buf, size_t n);

#endif
