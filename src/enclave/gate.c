/*
 * gate.c - the room gate, the engine's lanes and the per-member cap; see
 * gate.h.  The locks live in struct enclave (zero-initialised, which
 * glibc's initialisers are) and in this file (the member counts).
 */
#include "gate.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "common/limits.h"

void gate_read_enter(struct enclave *e) { (void)pthread_rwlock_rdlock(&e->gate); }

void gate_write_enter(struct enclave *e) { (void)pthread_rwlock_wrlock(&e->gate); }

void gate_leave(struct enclave *e) { (void)pthread_rwlock_unlock(&e->gate); }

struct cdr_engine *gate_engine_enter(struct enclave *e) { return engine_lane_take(e->engine); }

void gate_engine_leave(struct enclave *e, struct cdr_engine *lane) { engine_lane_give(e->engine, lane); }

unsigned enclave_member_query_cap(const struct enclave *e) {
  if (e->nworkers == 0)
    return ENCLAVE_MEMBER_QUERIES_UNLIMITED;
  unsigned lanes = e->nworkers > 1 ? e->nworkers - 1 : 1;
  uint64_t room = e->limits.member_queries; /* 1..64 once READY; 0 only before (tests) */
  return room >= 1 && room < lanes ? (unsigned)room : lanes;
}

/* Members with queries running: at most one slot per running query, and
 * no more queries run than there are lanes. */
#define MEMBER_SLOTS 64
static struct {
  pthread_mutex_t lock;
  struct {
    char name[CDR_MAX_NAME_LEN + 1];
    unsigned running;
  } slot[MEMBER_SLOTS];
} members = {PTHREAD_MUTEX_INITIALIZER, {{"", 0}}};

int gate_member_enter(struct enclave *e, const char *name, char *msg, size_t msglen) {
  unsigned cap = enclave_member_query_cap(e);
  int r = 0, free_at = -1, at = -1;
  if (cap == ENCLAVE_MEMBER_QUERIES_UNLIMITED)
    return 0;
  pthread_mutex_lock(&members.lock);
  for (int i = 0; i < MEMBER_SLOTS; i++) {
    if (members.slot[i].running == 0) {
      if (free_at < 0)
        free_at = i;
    } else if (strcmp(members.slot[i].name, name) == 0) {
      at = i;
    }
  }
  if (at >= 0 && members.slot[at].running >= cap) {
    snprintf(msg, msglen,
             "you already have %u %s running in this room, the most one member may run at once: wait for one to "
             "finish",
             members.slot[at].running, members.slot[at].running == 1 ? "query" : "queries");
    r = CDR_ERR_BUSY;
  } else if (at >= 0) {
    members.slot[at].running++;
  } else if (free_at >= 0) {
    snprintf(members.slot[free_at].name, sizeof(members.slot[free_at].name), "%s", name);
    members.slot[free_at].running = 1;
  } else {
    snprintf(msg, msglen, "the room is running as many queries as it can: try again in a moment");
    r = CDR_ERR_BUSY;
  }
  pthread_mutex_unlock(&members.lock);
  return r;
}

void gate_member_leave(struct enclave *e, const char *name) {
  if (enclave_member_query_cap(e) == ENCLAVE_MEMBER_QUERIES_UNLIMITED)
    return;
  pthread_mutex_lock(&members.lock);
  for (int i = 0; i < MEMBER_SLOTS; i++)
    if (members.slot[i].running > 0 && strcmp(members.slot[i].name, name) == 0) {
      members.slot[i].running--;
      break;
    }
  pthread_mutex_unlock(&members.lock);
}
