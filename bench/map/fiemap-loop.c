/* The least work a FIEMAP map needs: ask for extents in batches until
 * FIEMAP_EXTENT_LAST, coalesce neighbours, print nothing. The baseline for
 * bench/map. */
#include <fcntl.h>
#include <linux/fiemap.h>
#include <linux/fs.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <unistd.h>

#define BATCH 16384

int main(int argc, char **argv) {
  if (argc != 2) { fprintf(stderr, "usage: %s FILE\n", argv[0]); return 2; }
  int fd = open(argv[1], O_RDONLY);
  if (fd < 0) { perror("open"); return 1; }
  struct fiemap *fm = calloc(1, sizeof(*fm) + BATCH * sizeof(struct fiemap_extent));
  uint64_t start = 0, segments = 0, prev_end_l = UINT64_MAX, prev_end_p = UINT64_MAX;
  int flags = FIEMAP_FLAG_SYNC, last = 0;
  while (!last) {
    fm->fm_start = start;
    fm->fm_length = ~0ULL - start;
    fm->fm_flags = flags;
    fm->fm_extent_count = BATCH;
    if (ioctl(fd, FS_IOC_FIEMAP, fm) < 0) { perror("FS_IOC_FIEMAP"); return 1; }
    flags = 0;
    if (fm->fm_mapped_extents == 0) break;
    for (unsigned i = 0; i < fm->fm_mapped_extents; i++) {
      struct fiemap_extent *e = &fm->fm_extents[i];
      if (e->fe_logical != prev_end_l || e->fe_physical != prev_end_p) segments++;
      prev_end_l = e->fe_logical + e->fe_length;
      prev_end_p = e->fe_physical + e->fe_length;
      if (e->fe_flags & FIEMAP_EXTENT_LAST) last = 1;
    }
    start = prev_end_l;
  }
  printf("%llu\n", (unsigned long long)segments);
  return 0;
}
