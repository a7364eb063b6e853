/*
 * url.c - what the client reads from a server URL itself: whether its
 * host is a loopback address, the only place plain http:// may go.
 */
#include <arpa/inet.h>
#include <string.h>

#include "client.h"

#define URL_HOST_MAX 256

int cdr_url_host_is_loopback(const char *url) {
  const char *h = strstr(url, "://"), *end;
  char host[URL_HOST_MAX];
  unsigned char a[16];
  size_t n;

  if (h == NULL)
    return 0;
  h += 3;
  if (*h == '[') {
    if ((end = strchr(++h, ']')) == NULL)
      return 0;
  } else {
    end = h + strcspn(h, ":/?#");
  }
  if ((n = (size_t)(end - h)) == 0 || n >= sizeof(host) || memchr(h, '@', n) != NULL)
    return 0;
  memcpy(host, h, n);
  host[n] = '\0';
  if (strcmp(host, "localhost") == 0)
    return 1;
  if (inet_pton(AF_INET, host, a) == 1)
    return a[0] == 127;
  if (inet_pton(AF_INET6, host, a) == 1)
    return IN6_IS_ADDR_LOOPBACK((struct in6_addr *)a);
  return 0;
}
