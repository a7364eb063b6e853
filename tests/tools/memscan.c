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
    size_t len = (size_t)(hi - lo);
    char *buf = malloc(len);
    if (buf == NULL)
      continue;
    ssize_t got = pread(mem, buf, len, (off_t)lo);
    if (got > 0) {
      regions++;
      scanned += (size_t)got;
      if (memmem(buf, (size_t)got, marker, mlen) != NULL)
        found = 1;
    }
    free(buf);
  }
  fclose(maps);
  close(mem);
  fprintf(stderr, "memscan: pid %s: %zu regions, %zu bytes scanned, marker %s\n", argv[1], regions, scanned,
          found ? "FOUND" : "absent");
  if (regions == 0)
    return 2;
  return found ? 0 : 1;
}
