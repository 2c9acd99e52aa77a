/* SPDX-License-Identifier: MIT */
/* dashi-bench-matrix: multiply-add throughput this Vulkan device gives the rollout's
 * split product (rollout_split.h): int8 and fp16 cooperative matrices
 * (VK_NV_cooperative_matrix) next to scalar f64 fma, the baseline, measured in the same
 * run by GPU timestamps around one dispatch of shaders/matrix_probe.comp.
 *   --device NAME   Vulkan device (vk.h rules; default auto) */
#include <stdio.h>
#include <string.h>

#include "vk.h"

struct probe {
    const char *label, *shader;
    uint32_t iters;
    double per_iter; /* multiply-adds per subgroup per loop round (4 independent ops) */
};

/* Multiply-adds per second, or a negative value when the kernel cannot run here. */
static double rate(struct vk_runtime *vk, const struct probe *p, const struct vk_buffer *data,
                   const struct vk_buffer *out, uint32_t groups)
{
    struct dashi_error err = {0};
    const struct vk_kernel *k;
    VkDescriptorSet set = VK_NULL_HANDLE;
    struct vk_cmd c = {0};
    double best = -1;
    const struct vk_buffer *bufs[2] = {data, out};
    if (vk_kernel_get(vk, p->shader, 2, 0, &p->iters, 1, &k, &err) != 0 ||
        vk_descriptor_set(vk, k, bufs, &set, &err) != 0 || vk_cmd_create(vk, &c, &err) != 0) {
        fprintf(stderr, "%s: %s\n", p->label, err.message);
        goto out;
    }
    for (int rep = 0; rep < 3; rep++) { /* the first run warms up; the best of the rest */
        if (vk_cmd_begin(vk, &c, &err) != 0)
            goto out;
        int t0 = vk_cmd_timestamp(&c);
        vk_cmd_dispatch(&c, k, set, NULL, groups, 1, 1);
        int t1 = vk_cmd_timestamp(&c);
        if (vk_cmd_submit_wait(vk, &c, &err) != 0)
            goto out;
        double ms = vk_cmd_elapsed_ms(vk, &c, t0, t1);
        double ops = (double)groups * 4 /* subgroups */ * p->iters * p->per_iter;
        if (rep > 0 && ms > 0 && ops / (ms * 1e-3) > best)
            best = ops / (ms * 1e-3);
    }
out:
    if (c.cb)
        vk_cmd_destroy(vk, &c);
    vk_descriptor_set_free(vk, set);
    return best;
}

int main(int argc, char **argv)
{
    const char *device = "auto";
    if (argc == 3 && strcmp(argv[1], "--device") == 0) {
        device = argv[2];
    } else if (argc != 1) {
        fprintf(stderr, "usage: %s [--device NAME]\n", argv[0]);
        return 2;
    }
    struct vk_runtime vk;
    struct dashi_error err = {0};
    if (vk_runtime_open(&vk, device, NULL, &err) != 0) {
        fprintf(stderr, "dashi-bench-matrix: %s\n", err.message);
        return 1;
    }
    struct vk_buffer data = {.block = -1}, out = {.block = -1};
    int zero[4] = {3, 0, 0, 0};
    if (vk_buffer_alloc(&vk, 256, VK_MEM_DEVICE, &data, &err) != 0 ||
        vk_buffer_alloc(&vk, 4096, VK_MEM_DEVICE, &out, &err) != 0 || vk_upload(&vk, &data, 0, zero, sizeof zero, &err) != 0) {
        fprintf(stderr, "dashi-bench-matrix: %s\n", err.message);
        return 1;
    }
    printf("dashi-bench-matrix: %s (driver %s %s)\n\n", vk.device_name, vk.driver_name, vk.driver_info);
    enum { NPROBES = 5 };
    const struct probe probes[NPROBES] = {
        {"f64 fma (scalar)", "matrix_probe_f64", 16384, 4.0 * 32},
        {"int8 matrix 16x16x32 -> int32", "matrix_probe_int8", 512, 4.0 * 16 * 16 * 32},
        {"  + operands loaded as uvec4", "matrix_probe_int8_lu4", 512, 4.0 * 16 * 16 * 32},
        {"  + operands loaded as int8", "matrix_probe_int8_li8", 512, 4.0 * 16 * 16 * 32},
        {"fp16 matrix 16x16x16 -> fp32", "matrix_probe_fp16", 512, 4.0 * 16 * 16 * 16},
    };
    const uint32_t groups = 4096;
    double base = rate(&vk, &probes[0], &data, &out, groups);
    printf("| arithmetic                     | multiply-adds/s | ratio to f64 fma |\n");
    printf("|--------------------------------|-----------------|------------------|\n");
    for (int i = 0; i < NPROBES; i++) {
        if (i > 0 && !vk.int8_matrix) {
            printf("| %-30s | %15s | %16s |\n", probes[i].label, "n/a", "no matrices");
            continue;
        }
        double r = i == 0 ? base : rate(&vk, &probes[i], &data, &out, groups);
        if (r < 0 || base <= 0)
            printf("| %-30s | %15s | %16s |\n", probes[i].label, "failed", "");
        else
            printf("| %-30s | %15.3e | %15.2fx |\n", probes[i].label, r, r / base);
    }
    vk_buffer_free(&vk, &data);
    vk_buffer_free(&vk, &out);
    vk_runtime_close(&vk);
    return 0;
}
