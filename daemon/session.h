/* session.h - the daemon's one upstream session, which ephemeral leases hang on. */
#ifndef SESSION_H
#define SESSION_H

#include <stdint.h>

struct event_base;

/* err is OCTO_OK with the session id, or why no session could be had. */
typedef void (*session_cb)(int err, const char *session_id, const char *message,
    void *arg);

/* Set up; ttl_ms is what we ask the server for (it clamps to 10-300 s). */
void session_init(struct event_base *base, int64_t ttl_ms);

/* The current session id, or NULL when there is none yet. */
const char *session_current(void);

/*
 * Call cb once a session exists, creating one if needed; cb runs from the loop, never
 * from inside this call.  Returns OCTO_OK, or an error (cb is then never called).
 */
int session_wait(session_cb cb, void *arg);

/* Forget a waiter whose object is going away. */
void session_cancel(void *arg);

/* Generation of the current session, and dropping it when the server proved it
 * gone (it restarted or expired it) so that the next acquire creates a new one. */
unsigned session_generation(void);
void session_invalidate(unsigned gen, const char *why);

/* Terminate the session upstream (shutdown); done is called once it is over. */
void session_terminate(void (*done)(void));

/* Free everything. */
void session_free(void);

/* One-word state for health and status: none, creating, active. */
const char *session_state(void);

#endif
