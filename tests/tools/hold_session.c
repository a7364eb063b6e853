/*
 * hold_session.c - open a session, prove it works, then wait and use the
 * same session again: shows that revocation ends open sessions at once.
 *
 *   hold_session URL CA KEY CERT READY_FILE GO_FILE [contract]
 *
 * After the first query succeeds it creates READY_FILE, waits (up to 60 s)
 * for GO_FILE, queries again on the same session and prints the outcome
 * code on stdout ("ok" or the server's error code).  With "contract", the
 * two requests read the room contract instead of querying (what a key
 * that is only in the pending version may do).
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "client/client.h"

int main(int argc, char **argv) {
  struct cdr_client *c = NULL;
  struct cdr_attestation att;
  struct cdr_session *s = NULL;
  json_t *res = NULL;
  int r;
  if (argc != 7 && !(argc == 8 && strcmp(argv[7], "contract") == 0)) {
    fprintf(stderr, "usage: hold_session URL CA KEY CERT READY_FILE GO_FILE [contract]\n");
    return 2;
  }
  int contract = argc == 8;
  memset(&att, 0, sizeof(att));
  if (cdr_client_new(&c, argv[1]) != 0 || cdr_client_set_ca_file(c, argv[2]) != 0 ||
      cdr_client_load_user(c, argv[3], argv[4]) != 0)
    return 2;
  cdr_client_allow_sim(c, 1);
  if (cdr_client_attest(c, &att) != 0 || cdr_session_open(c, &att, &s) != 0)
    return 2;
  if ((r = contract ? cdr_client_contract(c, s, 0, &res) : cdr_client_query(c, s, "SELECT 1", &res)) != 0) {
    fprintf(stderr, "hold_session: first query failed: %s\n", cdr_err_code(r));
    return 2;
  }
  json_decref(res);
  res = NULL;
  FILE *f = fopen(argv[5], "w");
  if (f == NULL)
    return 2;
  fclose(f);
  for (int i = 0; i < 600 && access(argv[6], F_OK) != 0; i++)
    usleep(100000);
  r = contract ? cdr_client_contract(c, s, 0, &res) : cdr_client_query(c, s, "SELECT 1", &res);
  printf("%s\n", r == 0 ? "ok" : (c->remote_code[0] ? c->remote_code : cdr_err_code(r)));
  json_decref(res);
  cdr_session_free(s);
  cdr_attestation_clear(&att);
  cdr_client_free(c);
  return 0;
}
