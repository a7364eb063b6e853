/*
 * memscan.c - search another process's memory for a byte string.
 *
 *   memscan PID MARKER       exit 0 if found, 1 if not, 2 on error
 *
 * Reads /proc/PID/maps and every readable mapping through /proc/PID/mem
 * (needs CAP_SYS_PTRACE for a non-dumpable process such as the enclave,
 * or the same user for the host).  Used by the confidentiality test to
 * show that the host never holds plaintext while the enclave does.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: memscan PID MARKER\n");
    return 2;
  }
  char path[64];
  snprintf(path, sizeof(path), "/proc/%s/maps", argv[1]);
  FILE *maps = fopen(path, "r");
  snprintf(path, sizeof(path), "/proc/%s/mem", argv[1]);
  int mem = open(path, O_RDONLY);
  if (maps == NULL || mem < 0) {
    fprintf(stderr, "memscan: cannot open /proc/%s: %s\n", argv[1], strerror(errno));
    return 2;
  }
  const char *marker = argv[2];
  size_t mlen = strlen(marker);
  if (mlen == 0 || mlen > 4096) {
    fprintf(stderr, "memscan: the marker must be 1 to 4096 bytes\n");
    return 2;
  }
  char line[512];
  size_t scanned = 0, regions = 0;
  int found = 0;
  while (!found && fgets(line, sizeof(line), maps)) {
    uint64_t lo, hi;
    char perms[8];
    char *end;
    lo = strtoull(line, &end, 16);
    if (*end != '-')
      continue;
    hi = strtoull(end + 1, &end, 16);
    if (sscanf(end, " %4s", perms) != 1 || perms[0] != 'r')
      continue;
    if (strstr(line, "[vvar]") || strstr(line, "[vsyscall]"))
      continue;
    /* Sanitizer shadow and other huge reservations are not data the
     * program wrote there; skip regions over 8 GiB. */
    if (hi - lo > (8ull << 30))
      continue;
    /* Read in chunks, overlapping by the marker length, so that no
     * allocation is as large as a region and no match is split. */
    enum { CHUNK = 1 << 20 };
    static char buf[CHUNK + 4096];
    int any = 0;
    for (uint64_t at = lo; at < hi && !found;) {
      size_t want = (size_t)((hi - at) < CHUNK ? (hi - at) : CHUNK);
      ssize_t got = pread(mem, buf, want + (at + want < hi ? mlen - 1 : 0), (off_t)at);
      if (got <= 0)
        break;
      any = 1;
      scanned += (size_t)got;
      if (memmem(buf, (size_t)got, marker, mlen) != NULL)
        found = 1;
      at += want;
    }
    regions += any;
  }
  fclose(maps);
  close(mem);
  fprintf(stderr, "memscan: pid %s: %zu regions, %zu bytes scanned, marker %s\n", argv[1], regions, scanned,
          found ? "FOUND" : "absent");
  if (regions == 0)
    return 2;
  return found ? 0 : 1;
}
