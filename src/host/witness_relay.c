/*
 * witness_relay.c - one witness round over HTTPS, every witness in
 * parallel (witness_relay.h has the contract).
 */
#include "witness_relay.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"

struct relay_one {
  CURL *h;
  struct cdr_buf *body;
  int overflow;
  char url[CDR_CONTRACT_MAX_URL + 40];
};

static size_t relay_write(char *p, size_t size, size_t nmemb, void *ud) {
  struct relay_one *o = ud;
  size_t n = size * nmemb;
  if (cdr_buf_put(o->body, p, n) != 0) {
    o->overflow = 1;
    return 0;
  }
  return n;
}

static const char *relay_route(uint8_t kind) {
  return kind == IPC_WITNESS_KEY ? "key" : kind == IPC_WITNESS_LATEST ? "latest" : "countersign";
}

static CURL *relay_handle(const struct ipc_witness_round *m, struct relay_one *o, struct curl_slist *hdrs) {
  const char *ca = getenv("CURL_CA_BUNDLE");
  CURL *h = curl_easy_init();
  if (h == NULL)
    return NULL;
  if (ca == NULL || ca[0] == '\0')
    ca = getenv("SSL_CERT_FILE");
  curl_easy_setopt(h, CURLOPT_URL, o->url);
  curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "https");
  curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, WITNESS_RELAY_CONNECT_MS);
  curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, WITNESS_RELAY_ROUND_MS);
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, relay_write);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, o);
  if (ca != NULL && ca[0] != '\0')
    curl_easy_setopt(h, CURLOPT_CAINFO, ca);
  if (m->kind != IPC_WITNESS_KEY) {
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, (const char *)m->body);
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)m->body_len);
  }
  return h;
}

int witness_relay_round(const struct ipc_witness_round *m, struct ipc_witness_answer *answers,
                        struct cdr_buf *bodies) {
  struct relay_one one[IPC_WITNESS_MAX_N];
  struct curl_slist *hdrs = NULL;
  CURLM *multi = NULL;
  int running = 0, r = CDR_ERR_NOMEM;
  memset(one, 0, sizeof(one));
  for (uint32_t i = 0; i < m->n; i++)
    answers[i] = (struct ipc_witness_answer){0, NULL, 0};
  if ((multi = curl_multi_init()) == NULL ||
      (hdrs = curl_slist_append(NULL, "Content-Type: application/json")) == NULL)
    goto out;
  for (uint32_t i = 0; i < m->n && i < IPC_WITNESS_MAX_N; i++) {
    one[i].body = &bodies[i];
    snprintf(one[i].url, sizeof(one[i].url), "%s/v1/witness/%s", m->url[i], relay_route(m->kind));
    if ((one[i].h = relay_handle(m, &one[i], hdrs)) == NULL || curl_multi_add_handle(multi, one[i].h) != CURLM_OK)
      goto out;
  }
  do {
    if (curl_multi_perform(multi, &running) != CURLM_OK)
      break;
    if (running > 0 && curl_multi_poll(multi, NULL, 0, 200, NULL) != CURLM_OK)
      break;
  } while (running > 0);
  for (int left = 0;;) {
    CURLMsg *msg = curl_multi_info_read(multi, &left);
    if (msg == NULL)
      break;
    for (uint32_t i = 0; msg->msg == CURLMSG_DONE && i < m->n; i++) {
      long status = 0;
      if (one[i].h != msg->easy_handle)
        continue;
      curl_easy_getinfo(one[i].h, CURLINFO_RESPONSE_CODE, &status);
      if (msg->data.result == CURLE_OK && !one[i].overflow && status > 0) {
        answers[i] = (struct ipc_witness_answer){(uint32_t)status, cdr_buf_ptr(&bodies[i]), cdr_buf_avail(&bodies[i])};
      } else {
        log_warn("witness %s: no answer (%s)", m->url[i],
                 one[i].overflow ? "answer too large" : curl_easy_strerror(msg->data.result));
      }
    }
  }
  r = 0;
out:
  for (uint32_t i = 0; i < m->n && i < IPC_WITNESS_MAX_N; i++)
    if (one[i].h != NULL) {
      curl_multi_remove_handle(multi, one[i].h);
      curl_easy_cleanup(one[i].h);
    }
  curl_multi_cleanup(multi);
  curl_slist_free_all(hdrs);
  return r;
}
