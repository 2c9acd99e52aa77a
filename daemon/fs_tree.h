/* SPDX-License-Identifier: MIT */
/* Removal of a directory tree: the private state of `dashid --run`, an imported Slurm bundle. */
#ifndef DASHI_FS_TREE_H
#define DASHI_FS_TREE_H

/* Removes path and everything under it; symbolic links are removed, never followed. 0, or
 * -1 with errno (a path already gone is 0). */
int fs_remove_tree(const char *path);

#endif
