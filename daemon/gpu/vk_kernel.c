/* SPDX-License-Identifier: MIT */
/* Compute kernels from the embedded SPIR-V modules, built through the runtime's pipeline
 * cache and kept for the runtime's life keyed by (module, spec constants, bindings, push
 * size); and the descriptor sets that bind buffers to them. */
#include "vk_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shaders.h"

static void kernel_release(struct vk_runtime *vk, struct vk_kernel *k)
{
    if (k->pipeline)
        vkDestroyPipeline(vk->device, k->pipeline, NULL);
    if (k->layout)
        vkDestroyPipelineLayout(vk->device, k->layout, NULL);
    if (k->set_layout)
        vkDestroyDescriptorSetLayout(vk->device, k->set_layout, NULL);
    memset(k, 0, sizeof *k);
}

/* The driver's statistics of a new pipeline's executables (registers, shared memory,
 * ...) on stderr: a tuning aid, asked for with DASHI_VK_PIPELINE_STATS=1. */
static void print_statistics(struct vk_runtime *vk, const char *name, VkPipeline pipeline)
{
    PFN_vkGetPipelineExecutableStatisticsKHR get_stats =
        (PFN_vkGetPipelineExecutableStatisticsKHR)vkGetDeviceProcAddr(vk->device, "vkGetPipelineExecutableStatisticsKHR");
    if (!get_stats)
        return;
    VkPipelineExecutableInfoKHR info = {.sType = VK_STRUCTURE_TYPE_PIPELINE_EXECUTABLE_INFO_KHR,
                                        .pipeline = pipeline, .executableIndex = 0};
    VkPipelineExecutableStatisticKHR stats[32];
    uint32_t n = 32;
    for (uint32_t i = 0; i < n; i++)
        stats[i] = (VkPipelineExecutableStatisticKHR){.sType = VK_STRUCTURE_TYPE_PIPELINE_EXECUTABLE_STATISTIC_KHR};
    VkResult r = get_stats(vk->device, &info, &n, stats);
    if (r != VK_SUCCESS && r != VK_INCOMPLETE)
        return;
    fprintf(stderr, "kernel %s:", name);
    for (uint32_t i = 0; i < n; i++) {
        fprintf(stderr, " %s=", stats[i].name);
        switch (stats[i].format) {
        case VK_PIPELINE_EXECUTABLE_STATISTIC_FORMAT_BOOL32_KHR:
            fprintf(stderr, "%u", (unsigned)stats[i].value.b32);
            break;
        case VK_PIPELINE_EXECUTABLE_STATISTIC_FORMAT_INT64_KHR:
            fprintf(stderr, "%lld", (long long)stats[i].value.i64);
            break;
        case VK_PIPELINE_EXECUTABLE_STATISTIC_FORMAT_UINT64_KHR:
            fprintf(stderr, "%llu", (unsigned long long)stats[i].value.u64);
            break;
        default:
            fprintf(stderr, "%g", stats[i].value.f64);
        }
    }
    fprintf(stderr, "\n");
}

static int kernel_build(struct vk_runtime *vk, const struct embedded_shader *sh, struct vk_kernel_entry *e,
                        struct dashi_error *err)
{
    struct vk_kernel *k = &e->kernel;
    VkDescriptorSetLayoutBinding binds[32];
    for (uint32_t i = 0; i < k->bindings; i++)
        binds[i] = (VkDescriptorSetLayoutBinding){.binding = i,
                                                  .descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER,
                                                  .descriptorCount = 1,
                                                  .stageFlags = VK_SHADER_STAGE_COMPUTE_BIT};
    VkDescriptorSetLayoutCreateInfo dl = {.sType = VK_STRUCTURE_TYPE_DESCRIPTOR_SET_LAYOUT_CREATE_INFO,
                                          .bindingCount = k->bindings,
                                          .pBindings = binds};
    VkResult r = vkCreateDescriptorSetLayout(vk->device, &dl, NULL, &k->set_layout);
    if (r != VK_SUCCESS)
        return vk_fail(err, r, "vkCreateDescriptorSetLayout");
    VkPushConstantRange pr = {.stageFlags = VK_SHADER_STAGE_COMPUTE_BIT, .offset = 0, .size = k->push_bytes};
    VkPipelineLayoutCreateInfo pl = {.sType = VK_STRUCTURE_TYPE_PIPELINE_LAYOUT_CREATE_INFO,
                                     .setLayoutCount = 1,
                                     .pSetLayouts = &k->set_layout,
                                     .pushConstantRangeCount = k->push_bytes ? 1 : 0,
                                     .pPushConstantRanges = &pr};
    r = vkCreatePipelineLayout(vk->device, &pl, NULL, &k->layout);
    if (r != VK_SUCCESS)
        return vk_fail(err, r, "vkCreatePipelineLayout");
    VkShaderModuleCreateInfo mi = {.sType = VK_STRUCTURE_TYPE_SHADER_MODULE_CREATE_INFO,
                                   .codeSize = sh->words * sizeof(uint32_t),
                                   .pCode = sh->code};
    VkShaderModule module;
    r = vkCreateShaderModule(vk->device, &mi, NULL, &module);
    if (r != VK_SUCCESS)
        return vk_fail(err, r, "vkCreateShaderModule");
    VkSpecializationMapEntry map[VK_MAX_SPEC];
    for (uint32_t i = 0; i < e->nspec; i++)
        map[i] = (VkSpecializationMapEntry){.constantID = i, .offset = i * 4, .size = 4};
    VkSpecializationInfo si = {
        .mapEntryCount = e->nspec, .pMapEntries = map, .dataSize = e->nspec * 4, .pData = e->spec};
    VkComputePipelineCreateInfo ci = {
        .sType = VK_STRUCTURE_TYPE_COMPUTE_PIPELINE_CREATE_INFO,
        .stage = {.sType = VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO,
                  .stage = VK_SHADER_STAGE_COMPUTE_BIT,
                  .module = module,
                  .pName = "main",
                  .pSpecializationInfo = e->nspec ? &si : NULL},
        .layout = k->layout};
    if (vk->pipeline_stats)
        ci.flags = VK_PIPELINE_CREATE_CAPTURE_STATISTICS_BIT_KHR;
    r = vkCreateComputePipelines(vk->device, vk->pipeline_cache, 1, &ci, NULL, &k->pipeline);
    vkDestroyShaderModule(vk->device, module, NULL);
    if (r != VK_SUCCESS)
        return vk_fail(err, r, "vkCreateComputePipelines");
    if (vk->pipeline_stats)
        print_statistics(vk, e->name, k->pipeline);
    return 0;
}

int vk_kernel_get(struct vk_runtime *vk, const char *shader, uint32_t bindings, uint32_t push_bytes,
                  const uint32_t *spec, uint32_t nspec, const struct vk_kernel **out, struct dashi_error *err)
{
    if (nspec > VK_MAX_SPEC || bindings > 32 || strlen(shader) >= sizeof(((struct vk_kernel_entry *)0)->name))
        return dashi_fail(err, DASHI_E_INTERNAL, "", "vk_kernel_get(%s): too many constants or bindings", shader);
    for (struct vk_kernel_entry *e = vk->kernels; e; e = e->next)
        if (strcmp(e->name, shader) == 0 && e->nspec == nspec && e->kernel.bindings == bindings &&
            e->kernel.push_bytes == push_bytes && (nspec == 0 || memcmp(e->spec, spec, nspec * 4) == 0)) {
            *out = &e->kernel;
            return 0;
        }
    const struct embedded_shader *sh = shader_find(shader);
    if (!sh)
        return dashi_fail(err, DASHI_E_INTERNAL, "", "no embedded shader module \"%s\"", shader);
    struct vk_kernel_entry *e = calloc(1, sizeof *e);
    if (!e)
        return dashi_fail(err, DASHI_E_INTERNAL, "", "out of memory");
    snprintf(e->name, sizeof e->name, "%s", shader);
    if (nspec)
        memcpy(e->spec, spec, nspec * 4);
    e->nspec = nspec;
    e->kernel.bindings = bindings;
    e->kernel.push_bytes = push_bytes;
    if (kernel_build(vk, sh, e, err) != 0) {
        kernel_release(vk, &e->kernel);
        free(e);
        return -1;
    }
    e->next = vk->kernels;
    vk->kernels = e;
    *out = &e->kernel;
    return 0;
}

void vk_kernels_destroy_all(struct vk_runtime *vk)
{
    while (vk->kernels) {
        struct vk_kernel_entry *e = vk->kernels;
        vk->kernels = e->next;
        kernel_release(vk, &e->kernel);
        free(e);
    }
}

int vk_descriptor_set(struct vk_runtime *vk, const struct vk_kernel *k, const struct vk_buffer *const *bufs,
                      VkDescriptorSet *out, struct dashi_error *err)
{
    VkDescriptorSetAllocateInfo ai = {.sType = VK_STRUCTURE_TYPE_DESCRIPTOR_SET_ALLOCATE_INFO,
                                      .descriptorPool = vk->desc_pool,
                                      .descriptorSetCount = 1,
                                      .pSetLayouts = &k->set_layout};
    VkResult r = vkAllocateDescriptorSets(vk->device, &ai, out);
    if (r != VK_SUCCESS)
        return vk_fail(err, r, "vkAllocateDescriptorSets");
    VkDescriptorBufferInfo info[32];
    VkWriteDescriptorSet w[32];
    for (uint32_t i = 0; i < k->bindings; i++) {
        info[i] = (VkDescriptorBufferInfo){.buffer = bufs[i]->buffer, .offset = bufs[i]->offset,
                                           .range = bufs[i]->size};
        w[i] = (VkWriteDescriptorSet){.sType = VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET,
                                      .dstSet = *out,
                                      .dstBinding = i,
                                      .descriptorCount = 1,
                                      .descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER,
                                      .pBufferInfo = &info[i]};
    }
    vkUpdateDescriptorSets(vk->device, k->bindings, w, 0, NULL);
    return 0;
}

void vk_descriptor_set_free(struct vk_runtime *vk, VkDescriptorSet set)
{
    if (set && vk->device)
        vkFreeDescriptorSets(vk->device, vk->desc_pool, 1, &set);
}
